// A spec is deserialized into owned values; a borrowed field is refused at its type.
#[eso_runtime::provider_spec(kind = "Acme")]
pub struct AcmeSpec {
    pub server: &'static str,
    pub paths: Vec<&'static str>,
}

fn main() {}
