#[eso_runtime::provider_spec(kind = "Acme")]
pub enum AcmeSpec {
    Server(String),
}

fn main() {}
