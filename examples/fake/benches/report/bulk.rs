//! GetAllSecrets near ESO core's 4 MiB message limit: a response under it is
//! served, one over it is a clear OUT_OF_RANGE (asserted), never a failure deep in
//! the client. `ProviderClient` keeps tonic's default 4 MiB decoding limit, as
//! grpc-go does.

use super::latency::percentile;
use super::servers::{code_name, fake_object, fake_provider, fake_ref};
use eso_runtime::proto::provider::v1 as wire;
use eso_runtime::testing::TestProvider;
use prost::Message;
use std::time::{Duration, Instant};

/// One case: `count` secrets of `size` bytes each, in one `Fake` object.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Secrets in the object.
    pub count: usize,
    /// Bytes per value.
    pub size: usize,
    /// Calls measured (after one unmeasured).
    pub calls: usize,
    /// Whether the response fits (else OUT_OF_RANGE is expected).
    pub fits: bool,
}

/// What one case measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The case.
    pub case: Case,
    /// `OK` or the status code's name.
    pub code: String,
    /// The status message (bounded), when not OK.
    pub message: String,
    /// Encoded response size, when OK (protobuf, without the 5-byte gRPC frame).
    pub response_bytes: Option<usize>,
    /// Latency, median.
    pub p50: Duration,
    /// Latency, slowest.
    pub max: Duration,
}

/// The object's name for a case.
pub fn object_name(case: &Case) -> String {
    format!("bulk-{}x{}", case.count, case.size)
}

/// A `Fake` object with `count` entries `bulk/secret-NNNNN` of `size` bytes each.
pub fn manifest(case: &Case) -> String {
    let mut spec = String::with_capacity(case.count * (case.size + 48) + 16);
    spec.push_str("  data:\n");
    for index in 0..case.count {
        // Letters only: no YAML quoting; varied so that nothing compresses it away.
        let letter = char::from(b'a' + (index % 26) as u8);
        spec.push_str(&format!("    - key: bulk/secret-{index:05}\n      value: "));
        spec.extend(std::iter::repeat_n(letter, case.size));
        spec.push('\n');
    }
    fake_object(&object_name(case), spec.trim_end())
}

/// GetAllSecrets of every `bulk/` key of the case's object.
pub fn request(case: &Case) -> wire::GetAllSecretsRequest {
    wire::GetAllSecretsRequest {
        provider_ref: Some(fake_ref(&object_name(case))),
        find: Some(wire::ExternalSecretFind {
            path: "bulk/".into(),
            ..Default::default()
        }),
        source_namespace: "default".into(),
    }
}

fn bounded(text: &str) -> String {
    let mut text: String = text.chars().take(200).collect();
    text = text.replace('|', "\\|");
    text
}

/// Starts one provider holding every case's object and calls each case; a case
/// that does not end as expected fails the run.
pub async fn run(cases: &[Case]) -> Result<Vec<Outcome>, String> {
    let manifests: String = cases.iter().map(manifest).collect();
    let running = TestProvider::start(fake_provider(), &manifests)
        .await
        .map_err(|e| format!("starting the Fake provider with bulk objects: {e}"))?;
    let mut client = running.client().await.map_err(|e| format!("connecting: {e}"))?;
    let mut outcomes = Vec::new();
    for case in cases {
        let request = request(case);
        let mut latencies = Vec::new();
        let mut last = None;
        for index in 0..=case.calls.max(1) {
            let started = Instant::now();
            let result = client.store.get_all_secrets(request.clone()).await;
            let elapsed = started.elapsed();
            if index > 0 {
                latencies.push(elapsed);
            }
            last = Some(result);
        }
        latencies.sort_unstable();
        let outcome = match last {
            Some(Ok(response)) => {
                let response = response.into_inner();
                if response.secrets.len() != case.count
                    || response.secrets.values().any(|value| value.len() != case.size)
                {
                    return Err(format!(
                        "GetAllSecrets {}: {} secrets, expected {} of {} bytes",
                        object_name(case),
                        response.secrets.len(),
                        case.count,
                        case.size
                    ));
                }
                Outcome {
                    case: *case,
                    code: "OK".into(),
                    message: String::new(),
                    response_bytes: Some(response.encoded_len()),
                    p50: percentile(&latencies, 50),
                    max: latencies.last().copied().unwrap_or_default(),
                }
            }
            Some(Err(status)) => Outcome {
                case: *case,
                code: code_name(status.code()).into(),
                message: bounded(status.message()),
                response_bytes: None,
                p50: percentile(&latencies, 50),
                max: latencies.last().copied().unwrap_or_default(),
            },
            None => return Err("GetAllSecrets was not called".into()),
        };
        let expected = if case.fits { "OK" } else { "OUT_OF_RANGE" };
        if outcome.code != expected {
            return Err(format!(
                "GetAllSecrets {}: expected {expected}, got {} {}",
                object_name(case),
                outcome.code,
                outcome.message
            ));
        }
        outcomes.push(outcome);
    }
    running
        .stop()
        .await
        .map_err(|e| format!("stopping the Fake provider: {e}"))?;
    Ok(outcomes)
}
