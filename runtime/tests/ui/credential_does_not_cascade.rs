// The lint is the only error: the spec is still generated, so code using it compiles.
use eso_runtime::{Ctx, RemoteRef, Result, SecretStore, SecretValue};

#[eso_runtime::provider_spec(kind = "Acme")]
pub struct AcmeSpec {
    pub server: String,
    pub apiKey: Option<String>,
}

pub struct Acme;

#[eso_runtime::secret_store]
impl SecretStore for Acme {
    type Spec = AcmeSpec;
    type Client = AcmeSpec;
    async fn connect(&self, _ctx: &Ctx, spec: &AcmeSpec) -> Result<AcmeSpec> {
        Ok(spec.clone())
    }
    async fn get_secret(&self, client: &AcmeSpec, _remote: &RemoteRef) -> Result<SecretValue> {
        Ok(client.server.as_str().into())
    }
}

fn main() {}
