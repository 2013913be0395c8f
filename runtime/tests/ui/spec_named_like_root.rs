// The generated resource type is `<Kind>Resource`; the spec may not take its name.
#[eso_runtime::provider_spec(kind = "Acme")]
pub struct AcmeResource {
    pub server: String,
}

fn main() {}
