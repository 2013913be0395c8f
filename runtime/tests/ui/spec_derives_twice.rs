// The macro derives Serialize, Deserialize, JsonSchema, Clone and Debug itself.
#[eso_runtime::provider_spec(kind = "Acme")]
#[derive(Clone, Default, serde::Deserialize)]
pub struct AcmeSpec {
    pub server: String,
}

fn main() {}
