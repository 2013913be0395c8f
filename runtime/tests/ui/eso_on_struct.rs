// #[eso(...)] goes on fields; on the struct it is refused (and the lint still runs).
#[eso_runtime::provider_spec(kind = "Acme")]
#[eso(not_a_credential)]
pub struct AcmeSpec {
    pub client_secret: String,
}

fn main() {}
