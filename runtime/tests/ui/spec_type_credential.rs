// Types nested in a spec get the same lint, in every enum variant.
#[eso_runtime::spec_type]
pub enum Auth {
    Token { token: String },
    AppRole { role_id: String, secret_id: Vec<String> },
    Kubernetes { role: String },
}

fn main() {}
