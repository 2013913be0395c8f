// Refused arguments generate nothing, but the struct's own problems are reported with them.
#[eso_runtime::provider_spec(group = "acme")]
#[derive(Clone)]
pub struct AcmeSpec {
    pub server: String,
    pub password: String,
}

fn main() {}
