//! Validate checks a spec once: `validate_spec` runs for its warnings and is not
//! run again when Validate builds the first client of an object. Real loopback
//! gRPC with mTLS, files source.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use eso_runtime::testing::TestProvider;
use eso_runtime::testing::requests::StoreCall;
use eso_runtime::{Ctx, Gvk, ProviderSpec, RemoteRef, Result, SecretStore, SecretValue};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(serde::Deserialize)]
struct CountedSpec {
    #[serde(default)]
    warn: bool,
}

impl ProviderSpec for CountedSpec {
    const GVK: Gvk = Gvk {
        group: Gvk::DEFAULT_GROUP,
        version: Gvk::DEFAULT_VERSION,
        kind: "Counted",
    };
}

#[derive(Default, Clone)]
struct Counted {
    spec_checks: Arc<AtomicUsize>,
    connects: Arc<AtomicUsize>,
}

impl SecretStore for Counted {
    type Spec = CountedSpec;
    type Client = ();

    async fn connect(&self, _ctx: &Ctx, _spec: &CountedSpec) -> Result<()> {
        self.connects.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn validate_spec(&self, spec: &CountedSpec) -> Result<Vec<String>> {
        self.spec_checks.fetch_add(1, Ordering::SeqCst);
        Ok(if spec.warn { vec!["warned".into()] } else { Vec::new() })
    }

    async fn get_secret(&self, _client: &(), _remote: &RemoteRef) -> Result<SecretValue> {
        Ok("v".into())
    }
}

const OBJECTS: &str = "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Counted\nmetadata: {name: a, namespace: default}\nspec: {warn: true}\n";

#[tokio::test]
async fn validate_checks_the_spec_once_and_reports_its_warnings() {
    let store = Counted::default();
    let (spec_checks, connects) = (Arc::clone(&store.spec_checks), Arc::clone(&store.connects));
    let running = TestProvider::start(eso_runtime::serve!().secret_store(store), OBJECTS)
        .await
        .unwrap();
    let mut client = running.client().await.unwrap();
    let call = StoreCall::new(&CountedSpec::GVK, "default", "a");

    // The first Validate builds the client: one spec check, one connect.
    let reply = client.store.validate(call.validate()).await.unwrap().into_inner();
    assert!(reply.valid);
    assert_eq!(reply.error, "");
    assert_eq!(reply.warnings, ["warned"]);
    assert_eq!(spec_checks.load(Ordering::SeqCst), 1, "validate_spec ran twice");
    assert_eq!(connects.load(Ordering::SeqCst), 1);

    // A later call reuses the client; a second Validate checks the spec again
    // (for its warnings) but does not reconnect.
    let value = client
        .store
        .get_secret(call.get("k", "", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(value.value, b"v");
    let reply = client.store.validate(call.validate()).await.unwrap().into_inner();
    assert_eq!(reply.warnings, ["warned"]);
    assert_eq!(spec_checks.load(Ordering::SeqCst), 2);
    assert_eq!(connects.load(Ordering::SeqCst), 1);
    running.stop().await.unwrap();
}
