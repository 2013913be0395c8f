use eso_runtime::{Capabilities, Ctx, RemoteRef, Result, SecretStore, SecretValue};

#[eso_runtime::provider_spec(kind = "Acme")]
pub struct AcmeSpec {
    pub server: String,
}

pub struct AcmeStore;

#[eso_runtime::secret_store]
impl SecretStore for AcmeStore {
    type Spec = AcmeSpec;
    type Client = ();
    async fn connect(&self, _ctx: &Ctx, _spec: &AcmeSpec) -> Result<()> {
        Ok(())
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::ReadWrite
    }
    async fn get_secret(&self, _client: &(), remote: &RemoteRef) -> Result<SecretValue> {
        Ok(remote.key.as_str().into())
    }
}

fn main() {}
