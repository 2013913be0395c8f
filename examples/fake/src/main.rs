//! The Fake provider binary.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    eso_runtime::serve!()
        .secret_store(eso_example_fake::FakeStore::default())
        .generator(eso_example_fake::FakeGenerator::default())
        .run()
        .await
}
