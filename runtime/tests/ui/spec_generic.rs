#[eso_runtime::provider_spec(kind = "Acme")]
pub struct AcmeSpec<T> {
    pub server: T,
}

fn main() {}
