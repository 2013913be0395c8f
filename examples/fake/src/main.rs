//! The Fake provider binary: [`eso_example_fake::provider`], named after this crate.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let info = eso_runtime::ProviderInfo {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
    };
    eso_example_fake::provider(info).run().await
}
