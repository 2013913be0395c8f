//! Shared helpers for the Fake provider's integration tests: the kinds, a harness
//! start, and request builders that call like ESO core does.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used)]

use eso_runtime::proto::generator::v1 as gen_wire;
use eso_runtime::proto::provider::v1 as wire;
use eso_runtime::testing::requests::{GeneratorCall, StoreCall};
use eso_runtime::testing::{TestProvider, provider_ref};
use eso_runtime::{Gvk, ProviderSpec};
use std::collections::BTreeMap;

pub const FAKE: Gvk = eso_example_fake::FakeSpec::GVK;
pub const FAKE_GENERATOR: Gvk = eso_example_fake::FakeGeneratorSpec::GVK;

/// Errors as text, so tests can return `Result` and use `?` on everything.
pub type TestResult<T = ()> = Result<T, String>;

/// Starts the Fake provider (both kinds) on loopback with real mTLS.
pub async fn start(manifests: &str) -> TestResult<(TestProvider, eso_runtime::client::ProviderClient)> {
    let provider = eso_example_fake::provider(eso_runtime::ProviderInfo {
        name: "fake",
        version: "0",
    });
    let running = TestProvider::start(provider, manifests)
        .await
        .map_err(|e| format!("starting the provider: {e}"))?;
    let client = running
        .client()
        .await
        .map_err(|e| format!("connecting the client: {e}"))?;
    Ok((running, client))
}

/// One `Fake` object as YAML (a document, ending with `---`).
pub fn fake_object(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{spec}\n---\n"
    )
}

/// One `FakeGenerator` object as YAML.
pub fn generator_object(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: provider.external-secrets.io/v2alpha1\nkind: FakeGenerator\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{spec}\n---\n"
    )
}

pub fn fake_ref(namespace: &str, name: &str) -> wire::ProviderReference {
    provider_ref(&FAKE, namespace, name)
}

pub fn remote(key: &str, version: &str, property: &str) -> wire::ExternalSecretDataRemoteRef {
    eso_runtime::testing::requests::remote(key, version, property)
}

pub fn push_remote(key: &str, property: &str) -> Option<wire::PushSecretRemoteRef> {
    Some(eso_runtime::testing::requests::push_remote(key, property))
}

/// Requests about `namespace/name` of kind Fake, as ESO core sends them.
pub fn fake(namespace: &str, name: &str) -> StoreCall {
    StoreCall::new(&FAKE, namespace, name)
}

pub fn get_request(namespace: &str, name: &str, key: &str, version: &str, property: &str) -> wire::GetSecretRequest {
    fake(namespace, name).get(key, version, property)
}

pub fn map_request(namespace: &str, name: &str, key: &str, version: &str, property: &str) -> wire::GetSecretMapRequest {
    fake(namespace, name).get_map(key, version, property)
}

pub fn exists_request(namespace: &str, name: &str, key: &str, property: &str) -> wire::SecretExistsRequest {
    fake(namespace, name).exists(key, property)
}

pub fn delete_request(namespace: &str, name: &str, key: &str, property: &str) -> wire::DeleteSecretRequest {
    fake(namespace, name).delete(key, property)
}

/// A PushSecret of `data` (a Kubernetes Secret's data) to `remote_key`.
pub fn push_request(
    namespace: &str,
    name: &str,
    data: &[(&str, &str)],
    secret_key: &str,
    remote_key: &str,
    property: &str,
    metadata: &str,
) -> wire::PushSecretRequest {
    fake(namespace, name).push(data, secret_key, remote_key, property, metadata)
}

pub fn find_request(
    namespace: &str,
    name: &str,
    path: &str,
    regexp: &str,
    tags: &[(&str, &str)],
) -> wire::GetAllSecretsRequest {
    fake(namespace, name).find(path, regexp, tags)
}

pub fn validate_request(namespace: &str, name: &str) -> wire::ValidateRequest {
    fake(namespace, name).validate()
}

pub fn generate_request(namespace: &str, name: &str) -> gen_wire::GenerateRequest {
    GeneratorCall::new(&FAKE_GENERATOR, namespace, name).generate()
}

pub fn cleanup_request(namespace: &str, name: &str, state: Vec<u8>) -> gen_wire::CleanupRequest {
    GeneratorCall::new(&FAKE_GENERATOR, namespace, name).cleanup(state)
}

/// Bytes as text, for comparing values.
pub fn text(bytes: &[u8]) -> TestResult<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a value is not UTF-8".to_string())
}

/// A wire map as sorted text pairs.
pub fn text_map(map: std::collections::HashMap<String, Vec<u8>>) -> TestResult<BTreeMap<String, String>> {
    map.into_iter().map(|(k, v)| Ok((k, text(&v)?))).collect()
}

/// Sorted text pairs from literals.
pub fn pairs(items: &[(&str, &str)]) -> BTreeMap<String, String> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// GetSecret, as text or the status.
pub async fn get(
    client: &mut eso_runtime::client::ProviderClient,
    request: wire::GetSecretRequest,
) -> Result<String, tonic::Status> {
    let response = client.store.get_secret(request).await?;
    String::from_utf8(response.into_inner().value).map_err(|_| tonic::Status::internal("test: value is not UTF-8"))
}

/// The call must fail with `code` and a message containing every one of `needles`.
pub fn expect_status<T: std::fmt::Debug>(
    what: &str,
    result: Result<T, tonic::Status>,
    code: tonic::Code,
    needles: &[&str],
) -> TestResult {
    match result {
        Ok(value) => Err(format!("{what}: expected {code:?}, got OK {value:?}")),
        Err(status) if status.code() != code => Err(format!(
            "{what}: expected {code:?}, got {:?}: {}",
            status.code(),
            status.message()
        )),
        Err(status) => {
            for needle in needles {
                if !status.message().contains(needle) {
                    return Err(format!(
                        "{what}: message {:?} does not contain {needle:?}",
                        status.message()
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Unwraps a call's response or explains the status.
pub fn ok<T>(what: &str, result: Result<tonic::Response<T>, tonic::Status>) -> TestResult<T> {
    result
        .map(tonic::Response::into_inner)
        .map_err(|status| format!("{what}: {:?}: {}", status.code(), status.message()))
}

/// `assert_eq!` that returns an error instead of panicking.
#[macro_export]
macro_rules! check_eq {
    ($left:expr, $right:expr, $($what:tt)+) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!("{}: {:?} != {:?}", format!($($what)+), left, right));
        }
    }};
}

/// `assert!` that returns an error instead of panicking.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($what:tt)+) => {{
        if !$cond {
            return Err(format!($($what)+));
        }
    }};
}

pub mod process;
