//! The Vault provider binary: kinds `Vault` and `VaultToken`, as
//! [`eso_example_vault::provider`] serves them, named after this crate.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let info = eso_runtime::ProviderInfo {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
    };
    eso_example_vault::provider(info).run().await
}
