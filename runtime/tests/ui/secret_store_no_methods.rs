use eso_runtime::{Ctx, Result, SecretStore};

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
}

fn main() {}
