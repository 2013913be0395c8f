//! The Vault provider binary: kinds `Vault` and `VaultToken`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    eso_runtime::serve!()
        .secret_store(eso_example_vault::VaultStore)
        .generator(eso_example_vault::VaultTokenGenerator)
        .run()
        .await
}
