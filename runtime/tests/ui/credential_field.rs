#[eso_runtime::provider_spec(kind = "Acme")]
pub struct AcmeSpec {
    pub server: String,
    pub password: String,
    pub api_token: Option<String>,
}

fn main() {}
