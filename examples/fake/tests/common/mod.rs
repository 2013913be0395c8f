//! Shared helpers for the Fake provider's integration tests: the kinds, a harness
//! start, the objects as YAML, and requests about them built the way ESO core sends
//! them. The checks (`check!`, `expect_status`, …) are `eso_runtime::testing`'s.
#![allow(dead_code, unused_imports, missing_docs, clippy::unwrap_used, clippy::expect_used)]

pub use eso_runtime::testing::{TestResult, check, check_eq, expect_status, get, ok, pairs, text, text_map};

use eso_runtime::client::ProviderClient;
use eso_runtime::testing::TestProvider;
use eso_runtime::testing::requests::{GeneratorCall, StoreCall};
use eso_runtime::{Gvk, ProviderSpec};

pub const FAKE: Gvk = eso_example_fake::FakeSpec::GVK;
pub const FAKE_GENERATOR: Gvk = eso_example_fake::FakeGeneratorSpec::GVK;

/// Starts the provider (both kinds) on loopback with real mTLS, and a client.
pub async fn start(manifests: &str) -> TestResult<(TestProvider, ProviderClient)> {
    let provider = eso_example_fake::provider(eso_runtime::ProviderInfo {
        name: "fake",
        version: "0",
    });
    Ok(TestProvider::start_connected(provider, manifests).await?)
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

/// Requests about `namespace/name` of kind Fake, as ESO core sends them.
pub fn fake(namespace: &str, name: &str) -> StoreCall {
    StoreCall::new(&FAKE, namespace, name)
}

/// Requests about `namespace/name` of kind FakeGenerator, as ESO core sends them.
pub fn fake_generator(namespace: &str, name: &str) -> GeneratorCall {
    GeneratorCall::new(&FAKE_GENERATOR, namespace, name)
}

pub mod process;
