//! The Password generator binary.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    eso_runtime::serve!()
        .generator(eso_example_password::PasswordGenerator)
        .run()
        .await
}
