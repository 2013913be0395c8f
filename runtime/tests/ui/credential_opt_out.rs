// A false positive is allowed with #[eso(not_a_credential)]; other options are not.
#[eso_runtime::provider_spec(kind = "Acme")]
pub struct AcmeSpec {
    #[eso(not_a_credential)]
    pub token_path: String,
    #[eso(sensitive)]
    pub server: String,
}

fn main() {}
