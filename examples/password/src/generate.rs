//! Drawing a password from the operating system's CSPRNG-seeded generator.

use eso_runtime::{Error, Result, SecretValue};
use rand::Rng;
use rand::seq::SliceRandom;

/// Checked rules for one password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRules {
    /// Total length.
    pub length: usize,
    /// How many digits.
    pub digits: usize,
    /// How many symbols.
    pub symbols: usize,
    /// The symbols to draw from.
    pub symbol_characters: Vec<char>,
    /// Lower-case letters only.
    pub no_upper: bool,
    /// Characters may repeat.
    pub allow_repeat: bool,
}

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";

/// `count` characters from `pool`; without repeats when `allow_repeat` is false.
fn draw(rng: &mut impl Rng, pool: &[char], count: usize, allow_repeat: bool) -> Result<Vec<char>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if pool.is_empty() {
        return Err(Error::invalid_config("a character class is empty"));
    }
    if allow_repeat {
        return Ok((0..count).map(|_| pool[rng.random_range(0..pool.len())]).collect());
    }
    let mut distinct = pool.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if count > distinct.len() {
        return Err(Error::invalid_config(format!(
            "{count} characters without repeats from only {} distinct ones",
            distinct.len()
        )));
    }
    distinct.shuffle(rng);
    distinct.truncate(count);
    Ok(distinct)
}

/// One password following `rules`. `rand::rng()` is a ChaCha-based CSPRNG seeded
/// from the operating system.
pub fn generate(rules: &PasswordRules) -> Result<SecretValue> {
    let mut rng = rand::rng();
    let letters: Vec<char> = if rules.no_upper {
        LOWER.chars().collect()
    } else {
        LOWER.chars().chain(UPPER.chars()).collect()
    };
    let digits: Vec<char> = DIGITS.chars().collect();
    let letter_count = rules.length - rules.digits - rules.symbols;
    let mut chars = draw(&mut rng, &letters, letter_count, rules.allow_repeat)?;
    chars.extend(draw(&mut rng, &digits, rules.digits, rules.allow_repeat)?);
    chars.extend(draw(
        &mut rng,
        &rules.symbol_characters,
        rules.symbols,
        rules.allow_repeat,
    )?);
    chars.shuffle(&mut rng);
    let password: String = chars.iter().collect();
    wipe(&mut chars);
    Ok(SecretValue::from(password))
}

/// Overwrites the working copy of the characters before it is freed.
fn wipe(chars: &mut [char]) {
    chars.fill('\0');
    std::hint::black_box(chars);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(length: usize, digits: usize, symbols: usize, allow_repeat: bool) -> PasswordRules {
        PasswordRules {
            length,
            digits,
            symbols,
            symbol_characters: "!@#".chars().collect(),
            no_upper: false,
            allow_repeat,
        }
    }

    #[test]
    fn counts_of_each_class_are_exact() {
        for _ in 0..200 {
            let value = generate(&rules(24, 6, 3, false)).unwrap();
            let text = value.expose_str().unwrap().to_string();
            assert_eq!(text.chars().count(), 24);
            assert_eq!(text.chars().filter(|c| c.is_ascii_digit()).count(), 6);
            assert_eq!(text.chars().filter(|c| "!@#".contains(*c)).count(), 3);
            assert_eq!(text.chars().filter(|c| c.is_ascii_alphabetic()).count(), 15);
            let mut seen = std::collections::HashSet::new();
            assert!(text.chars().all(|c| seen.insert(c)), "a character repeats in {text}");
        }
    }

    #[test]
    fn no_upper_and_repeats() {
        let mut r = rules(64, 0, 0, true);
        r.no_upper = true;
        let text = generate(&r).unwrap().expose_str().unwrap().to_string();
        assert!(text.chars().all(|c| c.is_ascii_lowercase()), "{text}");
        assert_eq!(text.len(), 64);
    }

    #[test]
    fn passwords_differ() {
        let a = generate(&rules(32, 8, 8, true)).unwrap();
        let b = generate(&rules(32, 8, 8, true)).unwrap();
        assert_ne!(a, b);
    }
}
