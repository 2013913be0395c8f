//! The `Password` kind's spec.

use crate::generate::PasswordRules;
use eso_runtime::{Error, Result};

/// Symbols used when `symbolCharacters` is not set (ESO's default).
pub const DEFAULT_SYMBOLS: &str = "~!@#$%^&*()_+`-={}|[]\\:\"<>?,./";

/// The longest password this generator makes.
pub const MAX_LENGTH: usize = 4096;

fn default_length() -> usize {
    24
}

/// Generates a random password.
#[eso_runtime::generator_spec(kind = "Password")]
pub struct PasswordSpec {
    /// Length of the password.
    #[serde(default = "default_length")]
    #[schemars(range(min = 1, max = 4096))]
    pub length: usize,
    /// Number of digits; defaults to 25% of the length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digits: Option<usize>,
    /// Number of symbols; defaults to 25% of the length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbols: Option<usize>,
    /// The characters symbols are drawn from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol_characters: Option<String>,
    /// Use no upper-case letters.
    #[serde(default)]
    pub no_upper: bool,
    /// Allow a character to appear more than once.
    #[serde(default)]
    pub allow_repeat: bool,
}

impl PasswordSpec {
    /// The rules this spec asks for, with defaults filled in and every impossible
    /// combination refused with the reason.
    pub fn rules(&self) -> Result<PasswordRules> {
        let length = self.length;
        if length == 0 || length > MAX_LENGTH {
            return Err(Error::invalid_config(format!(
                "spec.length is {length}; it must be between 1 and {MAX_LENGTH}"
            )));
        }
        let quarter = length / 4;
        let digits = self.digits.unwrap_or(quarter);
        let symbols = self.symbols.unwrap_or(quarter);
        let symbol_characters: Vec<char> = self
            .symbol_characters
            .as_deref()
            .unwrap_or(DEFAULT_SYMBOLS)
            .chars()
            .collect();
        if digits + symbols > length {
            return Err(Error::invalid_config(format!(
                "spec.digits ({digits}) + spec.symbols ({symbols}) exceed spec.length ({length})"
            )));
        }
        if symbols > 0 && symbol_characters.is_empty() {
            return Err(Error::invalid_config(
                "spec.symbols is above 0 but spec.symbolCharacters is empty",
            ));
        }
        let letters = length - digits - symbols;
        let letter_kinds = if self.no_upper { 26 } else { 52 };
        if !self.allow_repeat {
            let mut distinct_symbols = symbol_characters.clone();
            distinct_symbols.sort_unstable();
            distinct_symbols.dedup();
            let checks = [
                (digits, 10, "spec.digits", "digits"),
                (
                    symbols,
                    distinct_symbols.len(),
                    "spec.symbols",
                    "distinct symbolCharacters",
                ),
                (
                    letters,
                    letter_kinds,
                    "the letters (length - digits - symbols)",
                    "letters",
                ),
            ];
            for (wanted, available, what, pool) in checks {
                if wanted > available {
                    return Err(Error::invalid_config(format!(
                        "{what} asks for {wanted} characters without repeats, but there are only {available} {pool}; set spec.allowRepeat: true or ask for fewer"
                    )));
                }
            }
        }
        Ok(PasswordRules {
            length,
            digits,
            symbols,
            symbol_characters,
            no_upper: self.no_upper,
            allow_repeat: self.allow_repeat,
        })
    }
}
