#[eso_runtime::provider_spec(group = "acme.example.com")]
pub struct AcmeSpec {
    pub server: String,
}

fn main() {}
