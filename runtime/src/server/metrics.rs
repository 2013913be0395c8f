//! Prometheus metrics, under the names and label values upstream ESO's provider
//! servers export (its e2e suites and dashboards read them):
//! `grpc_server_requests_total{method="/provider.v1.SecretStoreProvider/GetSecret",status="success"}`
//! — the full gRPC method, `success` or `error` — plus the gRPC code in `code`
//! (`OK`, `NotFound`, …); the same labels on `grpc_server_request_duration_seconds`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The full gRPC method, `/provider.v1.SecretStoreProvider/GetSecret`.
    method: Cow<'static, str>,
    /// `success` or `error`, as upstream's servers say.
    status: &'static str,
    /// The gRPC code (`OK`, `NotFound`, …).
    code: &'static str,
}

/// The methods the services serve: their series are looked up once, then reached
/// without allocating, hashing or locking the families. The fuzz harness picks
/// RPCs by index into it: append, do not reorder.
pub(crate) const METHODS: [&str; 10] = [
    "GetSecret",
    "GetSecretMap",
    "PushSecret",
    "DeleteSecret",
    "SecretExists",
    "GetAllSecrets",
    "Validate",
    "Capabilities",
    "Generate",
    "Cleanup",
];

/// The `method` label of each of [`METHODS`]: the full gRPC method, as upstream's
/// provider servers label it.
const FULL_METHODS: [&str; METHODS.len()] = [
    "/provider.v1.SecretStoreProvider/GetSecret",
    "/provider.v1.SecretStoreProvider/GetSecretMap",
    "/provider.v1.SecretStoreProvider/PushSecret",
    "/provider.v1.SecretStoreProvider/DeleteSecret",
    "/provider.v1.SecretStoreProvider/SecretExists",
    "/provider.v1.SecretStoreProvider/GetAllSecrets",
    "/provider.v1.SecretStoreProvider/Validate",
    "/provider.v1.SecretStoreProvider/Capabilities",
    "/generator.v1.GeneratorProvider/Generate",
    "/generator.v1.GeneratorProvider/Cleanup",
];

/// The `code` label of each gRPC code, by its number.
const STATUSES: [&str; 17] = [
    "OK",
    "Cancelled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

/// The index of `code` in `STATUSES` (`Unknown` for a number tonic does not know).
fn status_index(code: tonic::Code) -> usize {
    const UNKNOWN: usize = 2;
    usize::try_from(i32::from(code))
        .ok()
        .filter(|index| *index < STATUSES.len())
        .unwrap_or(UNKNOWN)
}

/// One method's series, each made on first use (so that /metrics lists only
/// what happened, as before) and shared with its family.
#[derive(Default)]
struct MethodSeries {
    durations: [OnceLock<Histogram>; STATUSES.len()],
    requests: [OnceLock<Counter>; STATUSES.len()],
}

/// The labels of one call: the method as given (the full gRPC method for the
/// services' own), `success` only for `OK`.
fn labels(method: Cow<'static, str>, code: usize) -> RequestLabels {
    RequestLabels {
        method,
        status: if code == 0 { "success" } else { "error" },
        code: STATUSES[code],
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectionLabels {
    reason: &'static str,
}

fn duration_histogram() -> Histogram {
    // 0.5 ms … ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The provider's metrics: `grpc_server_requests_total{method,status,code}`,
/// `grpc_server_request_duration_seconds{method,status,code}`,
/// `provider_certificate_hot_reload_total` and
/// `provider_certificate_hot_reload_failures_total`.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram, fn() -> Histogram>,
    reloads: Counter,
    reload_failures: Counter,
    rejected: Family<RejectionLabels, Counter>,
    /// By the index of the method in `METHODS`.
    series: [MethodSeries; METHODS.len()],
}

impl Metrics {
    /// Registers every metric.
    pub(crate) fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(duration_histogram);
        let reloads = Counter::default();
        let reload_failures = Counter::default();
        let rejected = Family::<RejectionLabels, Counter>::default();
        registry.register(
            "provider_requests_rejected",
            "Calls refused before reaching a handler because a limit was reached, by reason: in_flight, request_memory, request_body_timeout",
            rejected.clone(),
        );
        registry.register(
            "grpc_server_requests",
            "gRPC requests handled, by method, status (success or error) and gRPC code",
            requests.clone(),
        );
        registry.register(
            "grpc_server_request_duration_seconds",
            "Time to handle a gRPC request, by method, status (success or error) and gRPC code",
            durations.clone(),
        );
        registry.register(
            "provider_certificate_hot_reload",
            "Certificate sets reloaded without restart",
            reloads.clone(),
        );
        registry.register(
            "provider_certificate_hot_reload_failures",
            "Certificate sets that failed to load; the previous set stayed in use",
            reload_failures.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            reloads,
            reload_failures,
            rejected,
            series: Default::default(),
        }
    }

    pub(crate) fn request_rejected(&self, reason: super::limits::Rejection) {
        self.rejected
            .get_or_create(&RejectionLabels { reason: reason.label() })
            .inc();
    }

    /// Calls refused so far because a limit was reached, for one reason
    /// (`in_flight`, `request_memory` or `request_body_timeout`).
    pub fn requests_rejected(&self, reason: &str) -> u64 {
        [
            super::limits::Rejection::InFlight,
            super::limits::Rejection::RequestMemory,
            super::limits::Rejection::RequestBodyTimeout,
        ]
        .into_iter()
        .find(|r| r.label() == reason)
        .map_or(0, |r| {
            self.rejected
                .get_or_create(&RejectionLabels { reason: r.label() })
                .get()
        })
    }

    /// Records one handled request of `method` (one of the services' names, e.g.
    /// `GetSecret`, or any other, labelled as given).
    pub(crate) fn observe_request(&self, method: &str, code: tonic::Code, elapsed: Duration) {
        let code = status_index(code);
        let Some(index) = METHODS.iter().position(|known| *known == method) else {
            // A method the services do not name: the slow path, with owned labels.
            let labels = labels(Cow::Owned(method.to_string()), code);
            self.requests.get_or_create(&labels).inc();
            self.durations.get_or_create(&labels).observe(elapsed.as_secs_f64());
            return;
        };
        let series = &self.series[index];
        let labels = || labels(Cow::Borrowed(FULL_METHODS[index]), code);
        series.requests[code]
            .get_or_init(|| self.requests.get_or_create(&labels()).clone())
            .inc();
        series.durations[code]
            .get_or_init(|| self.durations.get_or_create(&labels()).clone())
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn certificate_reloaded(&self) {
        self.reloads.inc();
    }

    pub(crate) fn certificate_reload_failed(&self) {
        self.reload_failures.inc();
    }

    /// Certificate sets reloaded so far.
    pub fn certificate_reloads(&self) -> u64 {
        self.reloads.get()
    }

    /// Certificate sets that failed to load so far.
    pub fn certificate_reload_failures(&self) -> u64 {
        self.reload_failures.get()
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "encoding metrics");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODES: [tonic::Code; 17] = [
        tonic::Code::Ok,
        tonic::Code::Cancelled,
        tonic::Code::Unknown,
        tonic::Code::InvalidArgument,
        tonic::Code::DeadlineExceeded,
        tonic::Code::NotFound,
        tonic::Code::AlreadyExists,
        tonic::Code::PermissionDenied,
        tonic::Code::ResourceExhausted,
        tonic::Code::FailedPrecondition,
        tonic::Code::Aborted,
        tonic::Code::OutOfRange,
        tonic::Code::Unimplemented,
        tonic::Code::Internal,
        tonic::Code::Unavailable,
        tonic::Code::DataLoss,
        tonic::Code::Unauthenticated,
    ];

    #[test]
    fn code_labels_name_the_grpc_codes() {
        for code in CODES {
            let expected = match code {
                tonic::Code::Ok => "OK".to_string(),
                other => format!("{other:?}"),
            };
            assert_eq!(STATUSES[status_index(code)], expected);
        }
    }

    #[test]
    fn method_labels_are_the_full_grpc_methods_of_the_services() {
        use eso_proto::generator::v1::generator_provider_server::SERVICE_NAME as GENERATOR;
        use eso_proto::provider::v1::secret_store_provider_server::SERVICE_NAME as STORE;
        for (short, full) in METHODS.iter().zip(FULL_METHODS) {
            let service = if matches!(*short, "Generate" | "Cleanup") {
                GENERATOR
            } else {
                STORE
            };
            assert_eq!(full, format!("/{service}/{short}"));
        }
    }

    #[test]
    fn cached_series_are_the_exposed_ones() {
        let metrics = Metrics::new();
        for _ in 0..2 {
            metrics.observe_request("GetSecret", tonic::Code::Ok, Duration::from_millis(1));
        }
        metrics.observe_request("GetSecret", tonic::Code::NotFound, Duration::from_millis(1));
        metrics.observe_request("SomethingNew", tonic::Code::Internal, Duration::from_millis(1));
        metrics.observe_request("SomethingNew", tonic::Code::Internal, Duration::from_millis(1));
        let text = metrics.encode();
        const GET: &str = "/provider.v1.SecretStoreProvider/GetSecret";
        for line in [
            format!("grpc_server_requests_total{{method=\"{GET}\",status=\"success\",code=\"OK\"}} 2"),
            format!("grpc_server_requests_total{{method=\"{GET}\",status=\"error\",code=\"NotFound\"}} 1"),
            "grpc_server_requests_total{method=\"SomethingNew\",status=\"error\",code=\"Internal\"} 2".to_string(),
            format!("grpc_server_request_duration_seconds_count{{method=\"{GET}\",status=\"success\",code=\"OK\"}} 2"),
            format!(
                "grpc_server_request_duration_seconds_count{{method=\"{GET}\",status=\"error\",code=\"NotFound\"}} 1"
            ),
            "grpc_server_request_duration_seconds_count{method=\"SomethingNew\",status=\"error\",code=\"Internal\"} 2"
                .to_string(),
        ] {
            assert!(text.contains(&line), "{line} missing from:\n{text}");
        }
        // Only what happened is listed.
        assert!(!text.contains("code=\"Aborted\""), "{text}");
        assert!(!text.contains("/Validate"), "{text}");
    }
}
