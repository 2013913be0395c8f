use eso_runtime::{Ctx, RemoteRef, Result, SecretKeySelector, SecretStore, SecretValue};

/// Reads secrets from Acme Vault.
#[eso_runtime::provider_spec(kind = "Acme")]
pub struct AcmeSpec {
    /// Server address, e.g. https://acme.example:8200
    pub server: String,
    /// Token, read from a Kubernetes Secret under the store's authentication scope.
    pub token: SecretKeySelector,
}

pub struct Acme;

#[eso_runtime::secret_store] // capabilities inferred from the methods below: READ_ONLY
impl SecretStore for Acme {
    type Spec = AcmeSpec;
    type Client = AcmeClient;
    async fn connect(&self, ctx: &Ctx, spec: &AcmeSpec) -> Result<AcmeClient> {
        AcmeClient::new(&spec.server, ctx.secret(&spec.token).await?)
    }
    async fn get_secret(&self, client: &AcmeClient, remote: &RemoteRef) -> Result<SecretValue> {
        client.read(&remote.key).await
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    eso_runtime::serve!().secret_store(Acme).run().await
}
