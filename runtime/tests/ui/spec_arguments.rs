// Every bad argument is reported at its value, in one compilation.
#[eso_runtime::provider_spec(kind = "Acme", group = "acme", version = "V1", flavour = "mild", shortname = "a_b")]
pub struct AcmeSpec {
    pub server: String,
}

fn main() {}
