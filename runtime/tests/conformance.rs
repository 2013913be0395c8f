//! The conformance suite (`eso_runtime::testing::conformance`) against small
//! providers over real loopback mTLS: a correct read-write store and a correct
//! read-only one pass every case that applies; deliberately broken ones fail
//! exactly the cases that catch their bug. Two of the broken ones are raw tonic
//! servers of `eso_proto`'s services (what a provider in another language is), so
//! the runtime's own mapping cannot hide their bugs.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use eso_runtime::client::{ClientTls, ProviderClient};
use eso_runtime::proto::provider::v1 as wire;
use eso_runtime::proto::provider::v1::secret_store_provider_server::{SecretStoreProvider, SecretStoreProviderServer};
use eso_runtime::testing::conformance::{self, Fixture, Fixtures, Options, Outcome, Report, Target};
use eso_runtime::testing::{TestResult, check, check_eq};
use eso_runtime::tls::issue::CertificateSet;
use eso_runtime::{
    Capabilities, Ctx, Error, FindQuery, Gvk, ProviderSpec, PushRemoteRef, PushRequest, RemoteRef, Result, SecretMap,
    SecretStore, SecretValue,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::{Request, Response, Status};

// ------------------------------------------------------------------ a store through the runtime

#[derive(Debug, Deserialize)]
struct MemorySpec {
    #[serde(default)]
    values: BTreeMap<String, String>,
}

impl ProviderSpec for MemorySpec {
    const GVK: Gvk = Gvk {
        group: Gvk::DEFAULT_GROUP,
        version: Gvk::DEFAULT_VERSION,
        kind: "Memory",
    };
}

/// What a `Memory` store gets wrong on purpose.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MemoryBug {
    None,
    /// GetSecretMap of a value that is not a JSON object echoes the value.
    LeaksValue,
    /// GetSecret takes longer than any deadline.
    Hangs,
}

/// Serves its spec's values and what was pushed; read-write unless `read_only`.
struct Memory {
    pushed: Arc<Mutex<BTreeMap<String, SecretValue>>>,
    read_only: bool,
    bug: MemoryBug,
}

impl Memory {
    fn new(read_only: bool, bug: MemoryBug) -> Self {
        Memory {
            pushed: Arc::default(),
            read_only,
            bug,
        }
    }
}

struct MemoryClient {
    values: BTreeMap<String, SecretValue>,
    pushed: Arc<Mutex<BTreeMap<String, SecretValue>>>,
}

impl MemoryClient {
    fn lookup(&self, key: &str) -> Option<SecretValue> {
        if let Some(value) = self.pushed.lock().unwrap().get(key) {
            return Some(value.clone());
        }
        self.values.get(key).cloned()
    }

    fn all(&self) -> BTreeMap<String, SecretValue> {
        let mut all = self.values.clone();
        all.extend(self.pushed.lock().unwrap().clone());
        all
    }
}

impl SecretStore for Memory {
    type Spec = MemorySpec;
    type Client = MemoryClient;

    async fn connect(&self, _ctx: &Ctx, spec: &MemorySpec) -> Result<MemoryClient> {
        Ok(MemoryClient {
            values: spec
                .values
                .iter()
                .map(|(k, v)| (k.clone(), SecretValue::from(v.as_str())))
                .collect(),
            pushed: Arc::clone(&self.pushed),
        })
    }

    fn capabilities(&self) -> Capabilities {
        if self.read_only {
            Capabilities::ReadOnly
        } else {
            Capabilities::ReadWrite
        }
    }

    async fn get_secret(&self, client: &MemoryClient, remote: &RemoteRef) -> Result<SecretValue> {
        if self.bug == MemoryBug::Hangs {
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
        if remote.version.is_some() || remote.property.is_some() {
            return Err(Error::secret_not_found(&remote.key));
        }
        client
            .lookup(&remote.key)
            .ok_or_else(|| Error::secret_not_found(&remote.key))
    }

    async fn get_secret_map(&self, client: &MemoryClient, remote: &RemoteRef) -> Result<SecretMap> {
        let value = client
            .lookup(&remote.key)
            .ok_or_else(|| Error::secret_not_found(&remote.key))?;
        match serde_json::from_slice::<BTreeMap<String, String>>(value.expose()) {
            Ok(map) => Ok(map.into_iter().map(|(k, v)| (k, SecretValue::from(v))).collect()),
            Err(_) if self.bug == MemoryBug::LeaksValue => Err(Error::invalid_request(format!(
                "secret {} is not a JSON object: {}",
                remote.key,
                String::from_utf8_lossy(value.expose())
            ))),
            Err(_) => Err(Error::invalid_request(format!(
                "secret {} is not a JSON object",
                remote.key
            ))),
        }
    }

    async fn get_all_secrets(&self, client: &MemoryClient, find: &FindQuery) -> Result<SecretMap> {
        Ok(client
            .all()
            .into_iter()
            .filter(|(key, _)| find.matches(key, &BTreeMap::new()))
            .collect())
    }

    async fn push_secret(&self, _client: &MemoryClient, push: &PushRequest) -> Result<()> {
        if self.read_only {
            return Err(Error::unimplemented("PushSecret"));
        }
        let value = push.value()?;
        self.pushed
            .lock()
            .unwrap()
            .insert(push.remote.remote_key.clone(), value);
        Ok(())
    }

    async fn delete_secret(&self, _client: &MemoryClient, remote: &PushRemoteRef) -> Result<()> {
        if self.read_only {
            return Err(Error::unimplemented("DeleteSecret"));
        }
        self.pushed.lock().unwrap().remove(&remote.remote_key);
        Ok(())
    }

    async fn secret_exists(&self, client: &MemoryClient, remote: &PushRemoteRef) -> Result<bool> {
        Ok(client.lookup(&remote.remote_key).is_some())
    }
}

const MEMORY: &str = "\
apiVersion: provider.external-secrets.io/v2alpha1
kind: Memory
metadata: {name: backend, namespace: team-a}
spec:
  values: {greeting: memory-greeting-value, db/credentials: '{\"username\":\"app-user\",\"password\":\"pw-memory-7f3a\"}'}
";

fn memory_target() -> Target {
    Target::store(&MemorySpec::GVK, "team-a", "backend")
}

fn memory_fixtures() -> Fixtures {
    Fixtures::of([
        Fixture::value("greeting", "memory-greeting-value"),
        Fixture::value(
            "db/credentials",
            r#"{"username":"app-user","password":"pw-memory-7f3a"}"#,
        ),
        Fixture::map(
            "db/credentials",
            &[("username", "app-user"), ("password", "pw-memory-7f3a")],
        ),
    ])
}

async fn run_memory(read_only: bool, bug: MemoryBug, fixtures: &Fixtures) -> TestResult<Report> {
    let provider = eso_runtime::serve!().secret_store(Memory::new(read_only, bug));
    let report = conformance::run_in_process(provider, MEMORY, &memory_target(), fixtures).await?;
    eprintln!("{report}");
    Ok(report)
}

/// The cases a store target never runs: the generator cases.
const GENERATOR_CASES: [&str; 6] = [
    "generator.generate.returns-keys",
    "generator.cleanup.idempotent",
    "generator.errors.missing-object",
    "generator.errors.missing-ref",
    "generator.errors.unknown-kind",
    "generator.scope.cross-namespace",
];

fn with_generator_cases(ids: &[&'static str]) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = ids.to_vec();
    all.extend(GENERATOR_CASES);
    let order: Vec<&str> = conformance::cases().iter().map(|c| c.id).collect();
    all.sort_by_key(|id| order.iter().position(|o| o == id));
    all
}

#[tokio::test]
async fn a_correct_read_write_store_passes_every_case_that_applies() -> TestResult {
    let report = run_memory(false, MemoryBug::None, &memory_fixtures()).await?;
    report.assert_passed()?;
    check_eq!(
        report.skipped_ids(),
        with_generator_cases(&[
            "fixtures.seed.push",
            "store.get.missing-version",
            "store.get.missing-property",
            "store.find.fixtures",
            "store.read-only.push-unimplemented",
            "store.read-only.delete-unimplemented",
        ]),
        "skipped"
    );
    // Each skip says why.
    let seed = report.case("fixtures.seed.push").ok_or("no seed case")?;
    check_eq!(
        seed.outcome,
        Outcome::Skipped("the fixtures do not ask for seeding (seed: true)".into()),
        "the seed case"
    );
    let read_only = report
        .case("store.read-only.push-unimplemented")
        .ok_or("no read-only case")?;
    check_eq!(
        read_only.outcome,
        Outcome::Skipped("needs read-only; Capabilities says READ_WRITE".into()),
        "the read-only case"
    );
    check!(
        report.duration < Duration::from_secs(60),
        "the suite took {:?}",
        report.duration
    );
    Ok(())
}

#[tokio::test]
async fn without_fixtures_a_read_write_store_is_checked_on_what_the_suite_writes() -> TestResult {
    let report = run_memory(false, MemoryBug::None, &Fixtures::new()).await?;
    report.assert_passed()?;
    for id in [
        "store.find.name-regexp",
        "store.roundtrip.large-value",
        "protocol.concurrent-calls",
        "errors.no-value-in-messages",
        "scope.cluster-store.any-source-namespace",
    ] {
        check!(report.passed_ids().contains(&id), "{id} did not pass:\n{report}");
    }
    check!(report.skipped_ids().contains(&"store.get.fixtures"), "{report}");
    Ok(())
}

#[tokio::test]
async fn a_read_only_store_passes_the_read_only_cases_and_skips_the_writes() -> TestResult {
    let report = run_memory(true, MemoryBug::None, &memory_fixtures()).await?;
    report.assert_passed()?;
    check_eq!(
        report.skipped_ids(),
        with_generator_cases(&[
            "fixtures.seed.push",
            "store.get.missing-version",
            "store.get.missing-property",
            "store.find.fixtures",
            "store.roundtrip.binary-value",
            "store.roundtrip.empty-value",
            "store.roundtrip.large-value",
            "store.roundtrip.unicode-key",
            "store.lifecycle.push-exists-delete",
            "store.exists.missing-key",
            "store.delete.missing-key",
            "upstream.push.typed-secret",
        ]),
        "skipped"
    );
    for id in [
        "store.read-only.push-unimplemented",
        "store.read-only.delete-unimplemented",
    ] {
        check!(report.passed_ids().contains(&id), "{id}:\n{report}");
    }
    Ok(())
}

#[tokio::test]
async fn a_store_that_echoes_a_value_in_an_error_fails_only_the_leak_case() -> TestResult {
    let report = run_memory(false, MemoryBug::LeaksValue, &memory_fixtures()).await?;
    check_eq!(report.failed_ids(), ["errors.no-value-in-messages"], "failed cases");
    let leak = report.case("errors.no-value-in-messages").ok_or("no leak case")?;
    let Outcome::Failed(why) = &leak.outcome else {
        return Err("the leak case did not fail".into());
    };
    check!(
        why.contains("GetSecretMap of greeting: the error message holds fixture greeting (as is)"),
        "the reason names the call and the fixture: {why}"
    );
    // The report names the leak without repeating it, in every form.
    let text = format!("{report}\n{}", report.junit_xml());
    check!(
        !text.contains("memory-greeting-value"),
        "the report shows the value:\n{text}"
    );
    check!(
        !text.contains("cv-"),
        "the report shows a value the suite pushed:\n{text}"
    );
    Ok(())
}

#[tokio::test]
async fn a_hanging_store_fails_by_the_per_case_timeout_not_by_hanging() -> TestResult {
    let provider = eso_runtime::serve!().secret_store(Memory::new(false, MemoryBug::Hangs));
    let (running, client) = eso_runtime::testing::TestProvider::start_connected(provider, MEMORY).await?;
    let options = Options {
        case_timeout: Duration::from_millis(500),
    };
    let fixtures = Fixtures::of([Fixture::value("greeting", "memory-greeting-value")]);
    let started = std::time::Instant::now();
    let report = conformance::run_with(client, &memory_target(), &fixtures, &options).await;
    eprintln!("{report}");
    let failed = report.failed_ids();
    check!(failed.contains(&"store.get.fixtures"), "{report}");
    let case = report.case("store.get.fixtures").ok_or("no case")?;
    check_eq!(
        case.outcome,
        Outcome::Failed("did not finish within 500ms (the per-case timeout)".into()),
        "the reason"
    );
    // Every case that reads hangs; none takes longer than its timeout.
    check!(
        started.elapsed() < Duration::from_secs(30),
        "the run took {:?}",
        started.elapsed()
    );
    drop(running);
    Ok(())
}

// ------------------------------------------------------------------ raw tonic providers

/// What a raw provider gets wrong on purpose.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RawBug {
    None,
    /// A provider object it does not know is NOT_FOUND (as if a secret were missing).
    NotFoundForMissingObject,
    /// Any namespace is accepted through a namespaced store.
    IgnoresNamespaces,
    /// Compiled from an edited copy of the `.proto`: its reflection says
    /// `GetSecretRequest.source_namespace` is field 13, not 3.
    RenumbersField,
    /// Serves no gRPC reflection.
    NoReflection,
    /// GetSecret keeps the caller's namespace in state shared by all calls, and
    /// reads it back after a pause: right one call at a time, wrong interleaved.
    SharesCallerState,
}

const RAW_API_VERSION: &str = "provider.example.com/v1";
const RAW_KIND: &str = "Raw";

/// `SecretStoreProvider` written against the generated service only, as a
/// provider in another language would be: one object (`team-a/backend` of kind
/// `Raw`), read-write, in memory.
struct RawStore {
    bug: RawBug,
    data: Mutex<BTreeMap<String, Vec<u8>>>,
    last_caller: Mutex<String>,
}

impl RawStore {
    fn object(&self, reference: Option<&wire::ProviderReference>, source_namespace: &str) -> Result<(), Status> {
        let reference = reference.ok_or_else(|| Status::invalid_argument("provider_ref is missing"))?;
        if reference.api_version != RAW_API_VERSION || reference.kind != RAW_KIND {
            return Err(Status::unimplemented(format!("kind {} is not served", reference.kind)));
        }
        let namespaced = !reference.store_ref_kind.starts_with("Cluster");
        if namespaced
            && self.bug != RawBug::IgnoresNamespaces
            && !reference.namespace.is_empty()
            && !source_namespace.is_empty()
            && reference.namespace != source_namespace
        {
            return Err(Status::permission_denied(
                "a namespaced store may not leave its namespace",
            ));
        }
        let namespace = if reference.namespace.is_empty() {
            source_namespace
        } else {
            &reference.namespace
        };
        if reference.name != "backend" || namespace != "team-a" {
            let message = format!("Raw {namespace}/{} not found", reference.name);
            return Err(match self.bug {
                RawBug::NotFoundForMissingObject => Status::not_found(message),
                _ => Status::failed_precondition(message),
            });
        }
        Ok(())
    }

    fn value(&self, key: &str) -> Result<Vec<u8>, Status> {
        if key.is_empty() {
            return Err(Status::invalid_argument("remote_ref.key is empty"));
        }
        self.data
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("secret {key} not found")))
    }
}

fn remote_key(remote: Option<&wire::PushSecretRemoteRef>) -> Result<String, Status> {
    let remote = remote.ok_or_else(|| Status::invalid_argument("remote_ref is missing"))?;
    if remote.remote_key.is_empty() {
        return Err(Status::invalid_argument("remote_ref.remote_key is empty"));
    }
    Ok(remote.remote_key.clone())
}

#[tonic::async_trait]
impl SecretStoreProvider for RawStore {
    async fn get_secret(
        &self,
        request: Request<wire::GetSecretRequest>,
    ) -> Result<Response<wire::GetSecretResponse>, Status> {
        let request = request.into_inner();
        let caller = if self.bug == RawBug::SharesCallerState {
            *self.last_caller.lock().unwrap() = request.source_namespace.clone();
            tokio::time::sleep(Duration::from_millis(2)).await;
            self.last_caller.lock().unwrap().clone()
        } else {
            request.source_namespace.clone()
        };
        self.object(request.provider_ref.as_ref(), &caller)?;
        let remote = request.remote_ref.unwrap_or_default();
        if !remote.version.is_empty() || !remote.property.is_empty() {
            self.value(&remote.key)?;
            return Err(Status::not_found(format!(
                "secret {} has no such version or property",
                remote.key
            )));
        }
        Ok(Response::new(wire::GetSecretResponse {
            value: self.value(&remote.key)?,
        }))
    }

    async fn get_secret_map(
        &self,
        request: Request<wire::GetSecretMapRequest>,
    ) -> Result<Response<wire::GetSecretMapResponse>, Status> {
        let request = request.into_inner();
        self.object(request.provider_ref.as_ref(), &request.source_namespace)?;
        let remote = request.remote_ref.unwrap_or_default();
        let value = self.value(&remote.key)?;
        let map: BTreeMap<String, String> = serde_json::from_slice(&value)
            .map_err(|_| Status::invalid_argument(format!("secret {} is not a JSON object", remote.key)))?;
        Ok(Response::new(wire::GetSecretMapResponse {
            secrets: map.into_iter().map(|(k, v)| (k, v.into_bytes())).collect(),
        }))
    }

    async fn get_all_secrets(
        &self,
        request: Request<wire::GetAllSecretsRequest>,
    ) -> Result<Response<wire::GetAllSecretsResponse>, Status> {
        let request = request.into_inner();
        self.object(request.provider_ref.as_ref(), &request.source_namespace)?;
        let pattern = request.find.and_then(|f| f.name).map(|n| n.regexp).unwrap_or_default();
        let regexp =
            regex::Regex::new(&pattern).map_err(|_| Status::invalid_argument("find.name.regexp is invalid"))?;
        let secrets = self
            .data
            .lock()
            .unwrap()
            .iter()
            .filter(|(key, _)| regexp.is_match(key))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Response::new(wire::GetAllSecretsResponse { secrets }))
    }

    async fn push_secret(
        &self,
        request: Request<wire::PushSecretRequest>,
    ) -> Result<Response<wire::PushSecretResponse>, Status> {
        let request = request.into_inner();
        self.object(request.provider_ref.as_ref(), &request.source_namespace)?;
        let data = request
            .push_secret_data
            .ok_or_else(|| Status::invalid_argument("push_secret_data is missing"))?;
        if !data.metadata.is_empty() && serde_json::from_slice::<serde_json::Value>(&data.metadata).is_err() {
            return Err(Status::invalid_argument("push_secret_data.metadata is not JSON"));
        }
        let key = remote_key(Some(&wire::PushSecretRemoteRef {
            remote_key: data.remote_key,
            property: data.property,
        }))?;
        let value = request
            .secret_data
            .get(&data.secret_key)
            .cloned()
            .ok_or_else(|| Status::invalid_argument("push_secret_data.secret_key is not in secret_data"))?;
        self.data.lock().unwrap().insert(key, value);
        Ok(Response::new(wire::PushSecretResponse {}))
    }

    async fn delete_secret(
        &self,
        request: Request<wire::DeleteSecretRequest>,
    ) -> Result<Response<wire::DeleteSecretResponse>, Status> {
        let request = request.into_inner();
        self.object(request.provider_ref.as_ref(), &request.source_namespace)?;
        let key = remote_key(request.remote_ref.as_ref())?;
        self.data.lock().unwrap().remove(&key);
        Ok(Response::new(wire::DeleteSecretResponse {}))
    }

    async fn secret_exists(
        &self,
        request: Request<wire::SecretExistsRequest>,
    ) -> Result<Response<wire::SecretExistsResponse>, Status> {
        let request = request.into_inner();
        self.object(request.provider_ref.as_ref(), &request.source_namespace)?;
        let key = remote_key(request.remote_ref.as_ref())?;
        let exists = self.data.lock().unwrap().contains_key(&key);
        Ok(Response::new(wire::SecretExistsResponse { exists }))
    }

    async fn validate(
        &self,
        request: Request<wire::ValidateRequest>,
    ) -> Result<Response<wire::ValidateResponse>, Status> {
        let request = request.into_inner();
        self.object(request.provider_ref.as_ref(), &request.source_namespace)?;
        Ok(Response::new(wire::ValidateResponse {
            valid: true,
            ..Default::default()
        }))
    }

    async fn capabilities(
        &self,
        request: Request<wire::CapabilitiesRequest>,
    ) -> Result<Response<wire::CapabilitiesResponse>, Status> {
        let reference = request.into_inner().provider_ref;
        let reference = reference.ok_or_else(|| Status::invalid_argument("provider_ref is missing"))?;
        if reference.api_version != RAW_API_VERSION || reference.kind != RAW_KIND {
            return Err(Status::unimplemented(format!("kind {} is not served", reference.kind)));
        }
        Ok(Response::new(wire::CapabilitiesResponse {
            capabilities: wire::SecretStoreCapabilities::ReadWrite as i32,
        }))
    }
}

/// A raw provider on a loopback port with mutual TLS (fresh certificates), and a
/// client; the server stops when the returned sender is dropped.
async fn start_raw(bug: RawBug) -> TestResult<(tokio::sync::oneshot::Sender<()>, ProviderClient, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let certificates = CertificateSet::generate(&["localhost".to_string()])?;
    certificates.write(dir.path())?;
    let tls = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(
            &certificates.server.cert_pem,
            &certificates.server.key_pem,
        ))
        .client_ca_root(tonic::transport::Certificate::from_pem(
            certificates.authority.cert_pem(),
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let store = RawStore {
        bug,
        data: Mutex::new(BTreeMap::new()),
        last_caller: Mutex::new(String::new()),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let descriptors = match bug {
        RawBug::RenumbersField => renumbered_descriptors()?,
        _ => eso_runtime::proto::FILE_DESCRIPTOR_SET.to_vec(),
    };
    let reflection = (bug != RawBug::NoReflection)
        .then(|| {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(&descriptors)
                .build_v1()
        })
        .transpose()?;
    let server = tonic::transport::Server::builder()
        .tls_config(tls)?
        .add_service(health)
        .add_optional_service(reflection)
        .add_service(SecretStoreProviderServer::new(store))
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), async {
            let _ = stopped.await;
        });
    tokio::spawn(server);
    let client = ProviderClient::connect(
        &format!("localhost:{port}"),
        Some(&ClientTls::from_dir(dir.path().join("client"))?),
    )
    .await?;
    Ok((stop, client, dir))
}

/// The wire contract's descriptors with `GetSecretRequest.source_namespace`
/// renumbered 3 → 13, as a provider compiled from an edited `.proto` describes itself.
fn renumbered_descriptors() -> TestResult<Vec<u8>> {
    use prost::Message;
    let mut set = prost_types::FileDescriptorSet::decode(eso_runtime::proto::FILE_DESCRIPTOR_SET)?;
    let field = set
        .file
        .iter_mut()
        .flat_map(|file| file.message_type.iter_mut())
        .filter(|message| message.name() == "GetSecretRequest")
        .flat_map(|message| message.field.iter_mut())
        .find(|field| field.name() == "source_namespace")
        .ok_or("GetSecretRequest.source_namespace is in the contract")?;
    field.number = Some(13);
    Ok(set.encode_to_vec())
}

async fn run_raw(bug: RawBug) -> TestResult<Report> {
    let (_stop, client, _dir) = start_raw(bug).await?;
    let target = Target::new(
        conformance::Service::Store,
        RAW_API_VERSION,
        RAW_KIND,
        "team-a",
        "backend",
    );
    let report = conformance::run(client, &target, &Fixtures::new()).await;
    eprintln!("{bug:?}:\n{report}");
    Ok(report)
}

#[tokio::test]
async fn a_correct_raw_provider_passes_every_case_that_applies() -> TestResult {
    let report = run_raw(RawBug::None).await?;
    report.assert_passed()?;
    // Without fixtures, the cases that read fixtures skip; everything else runs.
    check_eq!(
        report.skipped_ids(),
        with_generator_cases(&[
            "fixtures.seed.push",
            "store.get.fixtures",
            "store.get.missing-version",
            "store.get.missing-property",
            "store.get-map.fixtures",
            "store.find.fixtures",
            "store.read-only.push-unimplemented",
            "store.read-only.delete-unimplemented",
        ]),
        "skipped"
    );
    Ok(())
}

#[tokio::test]
async fn a_raw_provider_that_answers_not_found_for_a_missing_object_fails_only_that_case() -> TestResult {
    let correct = run_raw(RawBug::None).await?;
    let report = run_raw(RawBug::NotFoundForMissingObject).await?;
    check_eq!(report.failed_ids(), ["errors.missing-object"], "failed cases");
    let Some(Outcome::Failed(why)) = report.case("errors.missing-object").map(|c| c.outcome.clone()) else {
        return Err("the case did not fail".into());
    };
    check!(
        why.contains("GetSecret of a missing provider object: NOT_FOUND (Raw team-a/eso-conformance-missing-"),
        "the reason names the RPC and the answer: {why}"
    );
    // Every other case ends as it does against the correct provider.
    let mut expected = correct.passed_ids();
    expected.retain(|id| *id != "errors.missing-object");
    check_eq!(report.passed_ids(), expected, "passed cases");
    Ok(())
}

#[tokio::test]
async fn a_raw_provider_whose_reflection_renumbers_a_field_fails_only_the_contract_check() -> TestResult {
    let correct = run_raw(RawBug::None).await?;
    check!(
        correct.passed_ids().contains(&"contract.reflection"),
        "the correct provider's reflection matches the contract"
    );
    let report = run_raw(RawBug::RenumbersField).await?;
    check_eq!(report.failed_ids(), ["contract.reflection"], "failed cases");
    let Some(Outcome::Failed(why)) = report.case("contract.reflection").map(|c| c.outcome.clone()) else {
        return Err("the case did not fail".into());
    };
    check!(
        why.contains("1 difference(s) from the wire contract")
            && why.contains(
                "field provider.v1.GetSecretRequest.source_namespace is number 13, the contract says 3 (renumbered)"
            ),
        "the reason names the field and both numbers: {why}"
    );
    // The contract check runs first: the report says so before any other case.
    check_eq!(
        report.cases.first().map(|c| c.id),
        Some("contract.reflection"),
        "first case"
    );
    let mut expected = correct.passed_ids();
    expected.retain(|id| *id != "contract.reflection");
    check_eq!(report.passed_ids(), expected, "passed cases");
    Ok(())
}

#[tokio::test]
async fn a_raw_provider_without_reflection_skips_the_contract_check_with_the_reason() -> TestResult {
    let report = run_raw(RawBug::NoReflection).await?;
    report.assert_passed()?;
    let Some(Outcome::Skipped(why)) = report.case("contract.reflection").map(|c| c.outcome.clone()) else {
        return Err("the contract case was not skipped".into());
    };
    check!(why.contains("serves no gRPC reflection"), "{why}");
    Ok(())
}

#[tokio::test]
async fn a_raw_provider_whose_calls_share_state_fails_only_the_fan_out_case() -> TestResult {
    let report = run_raw(RawBug::SharesCallerState).await?;
    check_eq!(report.failed_ids(), ["upstream.fan-out.one-connection"], "failed cases");
    let Some(Outcome::Failed(why)) = report
        .case("upstream.fan-out.one-connection")
        .map(|c| c.outcome.clone())
    else {
        return Err("the case did not fail".into());
    };
    check!(
        why.contains(
            "interleaved calls went wrong: GetSecret through a SecretStore from eso-conformance-elsewhere (round "
        ) && why.contains("answered a value, the same call alone answered PERMISSION_DENIED"),
        "the reason compares with the call alone: {why}"
    );
    Ok(())
}

#[tokio::test]
async fn a_raw_provider_that_ignores_namespaces_fails_only_the_namespace_cases() -> TestResult {
    let report = run_raw(RawBug::IgnoresNamespaces).await?;
    // An empty store_ref_kind is a namespaced store's too.
    check_eq!(
        report.failed_ids(),
        ["scope.namespaced-store.cross-namespace", "upstream.implicit-store-kind"],
        "failed cases"
    );
    let Some(Outcome::Failed(why)) = report
        .case("scope.namespaced-store.cross-namespace")
        .map(|c| c.outcome.clone())
    else {
        return Err("the case did not fail".into());
    };
    check!(
        why.contains("Validate through a SecretStore from namespace eso-conformance-elsewhere: answered OK; expected PERMISSION_DENIED")
            && why.contains("through a Provider"),
        "the reason names each RPC and store kind: {why}"
    );
    Ok(())
}
