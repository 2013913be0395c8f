//! A `Password` generator: the fields of ESO's password generator (`length`,
//! `digits`, `symbols`, `symbolCharacters`, `noUpper`, `allowRepeat`), drawn from a
//! cryptographically secure random generator, with clear errors for combinations
//! that cannot be satisfied. Nothing is created anywhere, so Cleanup has nothing to do.

mod generate;
mod spec;

pub use generate::{PasswordRules, generate};
pub use spec::{DEFAULT_SYMBOLS, MAX_LENGTH, PasswordResource, PasswordSpec};

use eso_runtime::{Ctx, Generated, Generator, Result, SecretMap};

/// The kind this binary serves, named after this crate: `main` runs it, the tests
/// start it in process.
#[must_use]
pub fn provider() -> eso_runtime::Provider {
    eso_runtime::serve!().generator(PasswordGenerator)
}

/// The key the password is returned under.
pub const PASSWORD_KEY: &str = "password";

/// Serves kind `Password`.
pub struct PasswordGenerator;

impl Generator for PasswordGenerator {
    type Spec = PasswordSpec;
    /// Nothing to clean up: a generated password exists only in the Secret.
    type State = ();

    async fn generate(&self, ctx: &Ctx, spec: &PasswordSpec) -> Result<Generated<()>> {
        let rules = spec.rules().map_err(|e| e.context(ctx.describe()))?;
        let password = generate(&rules).map_err(|e| e.context(ctx.describe()))?;
        let mut secrets = SecretMap::new();
        secrets.insert(PASSWORD_KEY.to_string(), password);
        Ok(Generated { secrets, state: None })
    }
}
