//! The Password generator binary: [`eso_example_password::provider`].

#[tokio::main]
async fn main() -> std::process::ExitCode {
    eso_example_password::provider().run().await
}
