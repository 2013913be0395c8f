pub struct Acme;

#[eso_runtime::secret_store]
impl Acme {
    async fn get_secret(&self) {}
}

fn main() {}
