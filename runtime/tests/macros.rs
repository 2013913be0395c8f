//! The macros end to end: a spec struct becomes a CRD the API server accepts, the
//! runtime serves it, and capabilities come from the methods present.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use eso_runtime::proto::provider::v1 as wire;
use eso_runtime::testing::{TestProvider, provider_ref};
use eso_runtime::{Ctx, ProviderSpec, PushRequest, RemoteRef, Result, SecretKeySelector, SecretStore, SecretValue};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tonic::Code;

/// Reads greetings from a remote greeter.
#[eso_runtime::provider_spec(
    kind = "Greeter",
    group = "greeter.example.com",
    version = "v1beta1",
    shortname = "gr"
)]
pub struct GreeterSpec {
    /// Where the greeter listens.
    pub server_url: String,
    /// How long to wait for it, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
    /// Token for the greeter, read from a Kubernetes Secret.
    pub auth_token: Option<SecretKeySelector>,
    /// Greetings by name.
    #[serde(default)]
    pub greetings: BTreeMap<String, Greeting>,
    /// Only a path, not a token.
    #[eso(not_a_credential)]
    pub token_path: Option<String>,
}

fn default_timeout() -> u32 {
    30
}

/// One greeting.
#[eso_runtime::spec_type]
pub struct Greeting {
    /// The words.
    pub text_value: String,
}

/// The store; named like its kind, which the macros allow.
pub struct Greeter;

#[eso_runtime::secret_store]
impl SecretStore for Greeter {
    type Spec = GreeterSpec;
    type Client = GreeterSpec;

    async fn connect(&self, _ctx: &Ctx, spec: &GreeterSpec) -> Result<GreeterSpec> {
        Ok(spec.clone())
    }

    async fn get_secret(&self, client: &GreeterSpec, remote: &RemoteRef) -> Result<SecretValue> {
        client
            .greetings
            .get(&remote.key)
            .map(|g| SecretValue::from(g.text_value.as_str()))
            .ok_or_else(|| eso_runtime::Error::secret_not_found(&remote.key))
    }
}

/// A write-only sink.
#[eso_runtime::provider_spec(kind = "Sink")]
pub struct SinkSpec {}

/// The sink store.
pub struct Sink;

#[eso_runtime::secret_store]
impl SecretStore for Sink {
    type Spec = SinkSpec;
    type Client = ();

    async fn connect(&self, _ctx: &Ctx, _spec: &SinkSpec) -> Result<()> {
        Ok(())
    }

    async fn push_secret(&self, _client: &(), _push: &PushRequest) -> Result<()> {
        Ok(())
    }
}

fn schema() -> Value {
    let crd = GreeterSpec::crd().expect("a CRD").expect("a structural CRD");
    serde_json::to_value(crd).unwrap()
}

#[test]
fn the_spec_struct_becomes_a_crd() {
    assert_eq!(GreeterSpec::GVK.api_version(), "greeter.example.com/v1beta1");
    let crd = schema();
    assert_eq!(crd["metadata"]["name"], json!("greeters.greeter.example.com"));
    assert_eq!(crd["spec"]["scope"], json!("Namespaced"));
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(["gr"]));
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], json!("v1beta1"));
    assert_eq!(version["subresources"]["status"], json!({}));
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Ready", "Reason", "Age"]);
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(spec["description"], json!("Reads greetings from a remote greeter."));
    assert_eq!(spec["required"], json!(["serverUrl"]));
    assert_eq!(
        spec["properties"]["serverUrl"]["description"],
        json!("Where the greeter listens.")
    );
    assert_eq!(spec["properties"]["timeoutSeconds"]["default"], json!(30));
    assert_eq!(spec["properties"]["authToken"]["nullable"], json!(true));
    assert_eq!(
        spec["properties"]["greetings"]["additionalProperties"]["properties"]["textValue"]["type"],
        json!("string")
    );
    let status = &version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"];
    assert!(status["conditions"].is_object() && status["observedGeneration"].is_object());
    // The generated resource type carries spec and status.
    let resource = GreeterResource::new(
        "g",
        GreeterSpec {
            server_url: "https://g".into(),
            timeout_seconds: 1,
            auth_token: None,
            greetings: BTreeMap::new(),
            token_path: None,
        },
    );
    assert!(resource.status.is_none());
}

#[tokio::test]
async fn capabilities_come_from_the_methods_present() {
    let provider = eso_runtime::serve!().secret_store(Greeter).secret_store(Sink);
    let manifest = provider.manifest().unwrap();
    let capabilities: Vec<(&str, Option<&str>)> = manifest
        .kinds
        .iter()
        .map(|k| (k.kind.as_str(), k.capabilities.as_deref()))
        .collect();
    assert_eq!(
        capabilities,
        [("Greeter", Some("READ_ONLY")), ("Sink", Some("WRITE_ONLY"))]
    );

    let manifests = "apiVersion: greeter.example.com/v1beta1\nkind: Greeter\nmetadata: {name: g, namespace: default}\nspec: {serverUrl: 'https://g', greetings: {hello: {textValue: hi}}}\n---\napiVersion: provider.external-secrets.io/v2alpha1\nkind: Sink\nmetadata: {name: s, namespace: default}\nspec: {}\n";
    let running = TestProvider::start(provider, manifests).await.unwrap();
    let mut client = running.client().await.unwrap();
    let greeter = provider_ref(&GreeterSpec::GVK, "default", "g");
    let sink = provider_ref(&SinkSpec::GVK, "default", "s");
    let answer = client
        .store
        .capabilities(wire::CapabilitiesRequest {
            provider_ref: Some(sink.clone()),
            source_namespace: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.capabilities, wire::SecretStoreCapabilities::WriteOnly as i32);
    let value = client
        .store
        .get_secret(wire::GetSecretRequest {
            remote_ref: Some(wire::ExternalSecretDataRemoteRef {
                key: "hello".into(),
                ..Default::default()
            }),
            provider_ref: Some(greeter),
            source_namespace: "default".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .value;
    assert_eq!(value, b"hi");
    // A method the sink does not implement answers UNIMPLEMENTED, naming the method.
    let status = client
        .store
        .get_secret(wire::GetSecretRequest {
            remote_ref: Some(wire::ExternalSecretDataRemoteRef {
                key: "hello".into(),
                ..Default::default()
            }),
            provider_ref: Some(sink),
            source_namespace: "default".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(status.message().contains("GetSecret"), "{}", status.message());
    running.stop().await.unwrap();
}

#[test]
fn crds_yaml_parses_back_and_is_structural() {
    let provider = eso_runtime::serve!().secret_store(Greeter).secret_store(Sink);
    let yaml = provider.manifest().unwrap().crds_yaml().unwrap();
    let names = eso_runtime::testing::structural_crds(&yaml).unwrap();
    assert_eq!(names.len(), 2, "{names:?}");
}
