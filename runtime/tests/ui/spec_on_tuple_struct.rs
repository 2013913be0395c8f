#[eso_runtime::provider_spec(kind = "Acme")]
pub struct AcmeSpec(pub String);

fn main() {}
