//! The naming rules of eso-gen providers, in one place: DNS-1123 and DNS-1035 labels,
//! DNS-1123 subdomains, API groups and kinds.
//!
//! Each rule answers *why* a name breaks it ([`Problem`], [`SubdomainProblem`]), never
//! with a message of its own wording only: every caller words its refusal for its own
//! context (a flag of `eso-gen certs`, the project name of `eso-gen new`, an argument of
//! `#[provider_spec]`), and the [`Display`](std::fmt::Display) of a problem is a clause
//! such as "it is empty" that fits after the caller's subject.
//!
//! Why a crate of its own: the names are checked in two places that cannot share code
//! any other way. `eso-macros` checks the arguments of `#[provider_spec]` and
//! `#[generator_spec]` while it expands them, where it knows the span of the bad value and
//! can put a clear error on it; it is a proc-macro crate, so it can export nothing but
//! macros, and it cannot depend on `eso-runtime`, which depends on it. The `eso-gen`
//! command line checks the names it is given. A plain crate with no dependencies is the one
//! thing both can depend on (and publish with). The alternative, `const fn` rules the
//! macro's expansion calls in a `const _: () = assert!(...)`, would move the refusal from
//! expansion time to constant evaluation: after the rest of the expansion is compiled, with
//! the compiler's "evaluation of constant value failed" wrapped around a fixed message.

/// The longest DNS-1123 (and DNS-1035) label.
pub const MAX_LABEL: usize = 63;
/// The longest DNS-1123 subdomain.
pub const MAX_SUBDOMAIN: usize = 253;
/// The longest kind: kube-derive's plural is the lower-cased kind plus `s`, and the
/// API server wants the plural to be a DNS label.
pub const MAX_KIND: usize = MAX_LABEL - 1;

/// Why a name breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The name is empty.
    Empty,
    /// The name is `len` bytes long; the rule allows `max`.
    TooLong {
        /// The name's length in bytes.
        len: usize,
        /// The rule's maximum.
        max: usize,
    },
    /// The name contains a character other than lowercase ASCII letters, digits and `-`
    /// (the first one found).
    Character(char),
    /// The name starts or ends with `-`.
    Hyphen,
    /// The name starts with a digit where the rule wants a letter.
    Digit,
    /// The name is not UpperCamelCase: ASCII letters and digits, starting with an
    /// upper-case letter.
    NotUpperCamelCase,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Empty => f.write_str("it is empty"),
            Problem::TooLong { max, .. } => write!(f, "it is longer than {max} characters"),
            Problem::Character(_) => f.write_str("it may contain only lowercase letters, digits and '-'"),
            Problem::Hyphen => f.write_str("it must start and end with a letter or digit"),
            Problem::Digit => f.write_str("it must start with a letter"),
            Problem::NotUpperCamelCase => {
                f.write_str("it must be UpperCamelCase: ASCII letters and digits, starting with an upper-case letter")
            }
        }
    }
}

impl std::error::Error for Problem {}

/// Why a name breaks a subdomain rule ([`dns1123_subdomain`], [`api_group`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubdomainProblem<'a> {
    /// The name is `len` bytes long, more than [`MAX_SUBDOMAIN`].
    TooLong {
        /// The name's length in bytes.
        len: usize,
    },
    /// The name has no dot where the rule wants one (an API group).
    NoDot,
    /// One of the dot-separated parts is not a DNS-1123 label.
    Label {
        /// The part.
        label: &'a str,
        /// Why it is not a label.
        problem: Problem,
    },
}

impl std::fmt::Display for SubdomainProblem<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubdomainProblem::TooLong { .. } => write!(f, "it is longer than {MAX_SUBDOMAIN} characters"),
            SubdomainProblem::NoDot => f.write_str("it has no dot"),
            SubdomainProblem::Label { label, problem } => {
                write!(f, "the part {label:?} is not a DNS-1123 label ({problem})")
            }
        }
    }
}

impl std::error::Error for SubdomainProblem<'_> {}

/// A DNS-1123 label, as Service and namespace names are: lowercase ASCII letters, digits
/// and `-`, starting and ending with a letter or digit, at most [`MAX_LABEL`] characters.
pub fn dns1123_label(name: &str) -> Result<(), Problem> {
    if name.is_empty() {
        return Err(Problem::Empty);
    }
    if name.len() > MAX_LABEL {
        return Err(Problem::TooLong {
            len: name.len(),
            max: MAX_LABEL,
        });
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(Problem::Character(bad));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(Problem::Hyphen);
    }
    Ok(())
}

/// A DNS-1035 label: a [DNS-1123 label](dns1123_label) that starts with a letter. The API
/// server wants it of CRD versions, plurals, short names and categories; Cargo package
/// names cannot start with a digit either.
pub fn dns1035_label(name: &str) -> Result<(), Problem> {
    dns1123_label(name)?;
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(Problem::Digit);
    }
    Ok(())
}

/// A DNS-1123 subdomain: [DNS-1123 labels](dns1123_label) joined by dots, at most
/// [`MAX_SUBDOMAIN`] characters.
pub fn dns1123_subdomain(name: &str) -> Result<(), SubdomainProblem<'_>> {
    if name.len() > MAX_SUBDOMAIN {
        return Err(SubdomainProblem::TooLong { len: name.len() });
    }
    for label in name.split('.') {
        dns1123_label(label).map_err(|problem| SubdomainProblem::Label { label, problem })?;
    }
    Ok(())
}

/// An API group, as a CRD's must be: a [DNS-1123 subdomain](dns1123_subdomain) with at
/// least one dot.
pub fn api_group(name: &str) -> Result<(), SubdomainProblem<'_>> {
    if name.len() <= MAX_SUBDOMAIN && !name.contains('.') {
        return Err(SubdomainProblem::NoDot);
    }
    dns1123_subdomain(name)
}

/// Whether `name` is UpperCamelCase: ASCII letters and digits, starting with an
/// upper-case letter (so also a Rust type name).
pub fn is_upper_camel_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase()) && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A kind whose types eso-gen generates: [UpperCamelCase](is_upper_camel_case), at most
/// [`MAX_KIND`] characters (its plural, lower-cased with an `s`, must be a DNS label).
pub fn kind(name: &str) -> Result<(), Problem> {
    if name.is_empty() {
        return Err(Problem::Empty);
    }
    if !is_upper_camel_case(name) {
        return Err(Problem::NotUpperCamelCase);
    }
    if name.len() > MAX_KIND {
        return Err(Problem::TooLong {
            len: name.len(),
            max: MAX_KIND,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1123_labels() {
        for ok in ["a", "provider-vault", "1a", "a1", "0", &"a".repeat(63)] {
            assert_eq!(dns1123_label(ok), Ok(()), "{ok}");
        }
        let long = "a".repeat(64);
        for (bad, problem) in [
            ("", Problem::Empty),
            (long.as_str(), Problem::TooLong { len: 64, max: 63 }),
            ("Provider", Problem::Character('P')),
            ("provider_vault", Problem::Character('_')),
            ("a.b", Problem::Character('.')),
            ("a b", Problem::Character(' ')),
            ("Äcme", Problem::Character('Ä')),
            ("-a", Problem::Hyphen),
            ("a-", Problem::Hyphen),
        ] {
            assert_eq!(dns1123_label(bad), Err(problem), "{bad:?}");
        }
    }

    #[test]
    fn dns1035_labels() {
        // The cases eso-macros' is_dns_label had.
        for ok in ["v1", "v2alpha1", "vaults", "my-vaults", "a", &"a".repeat(63)] {
            assert_eq!(dns1035_label(ok), Ok(()), "{ok}");
        }
        for bad in ["", "V1", "1v", "a_b", "a-", "-a", &"a".repeat(64)] {
            assert!(dns1035_label(bad).is_err(), "{bad}");
        }
        assert_eq!(dns1035_label("1v"), Err(Problem::Digit));
        // A character problem is reported before the first letter.
        assert_eq!(dns1035_label("1V"), Err(Problem::Character('V')));
    }

    #[test]
    fn subdomains_and_groups() {
        for ok in ["cluster.local", "localhost", "provider.example.com", "a-1.b2"] {
            assert_eq!(dns1123_subdomain(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            dns1123_subdomain("a..b"),
            Err(SubdomainProblem::Label {
                label: "",
                problem: Problem::Empty
            })
        );
        assert_eq!(
            dns1123_subdomain("UPPER.example.com"),
            Err(SubdomainProblem::Label {
                label: "UPPER",
                problem: Problem::Character('U')
            })
        );
        let long = ["a".repeat(63), "a".repeat(63), "a".repeat(63), "a".repeat(63)].join(".");
        assert_eq!(dns1123_subdomain(&long), Err(SubdomainProblem::TooLong { len: 255 }));

        // The cases eso-macros' is_group and eso-gen new's check_group had.
        for ok in [
            "provider.external-secrets.io",
            "a.io",
            "x1.example.com",
            "acme.example.com",
        ] {
            assert_eq!(api_group(ok), Ok(()), "{ok}");
        }
        for bad in [
            "io",
            "acme",
            "A.io",
            "Acme.io",
            "a..io",
            "acme..io",
            ".a.io",
            "-acme.io",
            "a_b.io",
            "acme_x.io",
            "a-.io",
        ] {
            assert!(api_group(bad).is_err(), "{bad}");
        }
        assert_eq!(api_group("acme"), Err(SubdomainProblem::NoDot));
        assert_eq!(api_group(""), Err(SubdomainProblem::NoDot));
        assert!(matches!(api_group(&long), Err(SubdomainProblem::TooLong { .. })));
        assert!(matches!(
            api_group(&format!("{}.io", "a".repeat(64))),
            Err(SubdomainProblem::Label {
                problem: Problem::TooLong { .. },
                ..
            })
        ));
    }

    #[test]
    fn kinds() {
        for ok in ["Acme", "AcmeVault", "V2", "S3Bucket", "OAuth2", &"A".repeat(62)] {
            assert_eq!(kind(ok), Ok(()), "{ok}");
        }
        for (bad, problem) in [
            ("", Problem::Empty),
            ("acme", Problem::NotUpperCamelCase),
            ("Acme-Vault", Problem::NotUpperCamelCase),
            ("Acme_Vault", Problem::NotUpperCamelCase),
            ("Ac me", Problem::NotUpperCamelCase),
            ("Äcme", Problem::NotUpperCamelCase),
            ("1Acme", Problem::NotUpperCamelCase),
        ] {
            assert_eq!(kind(bad), Err(problem), "{bad:?}");
        }
        assert_eq!(kind(&"A".repeat(63)), Err(Problem::TooLong { len: 63, max: 62 }));
        assert!(!is_upper_camel_case(""));
    }

    #[test]
    fn problems_read_as_clauses() {
        assert_eq!(Problem::Empty.to_string(), "it is empty");
        assert_eq!(
            Problem::TooLong { len: 64, max: 63 }.to_string(),
            "it is longer than 63 characters"
        );
        assert_eq!(
            Problem::Character('_').to_string(),
            "it may contain only lowercase letters, digits and '-'"
        );
        assert_eq!(
            Problem::Hyphen.to_string(),
            "it must start and end with a letter or digit"
        );
        assert_eq!(
            SubdomainProblem::Label {
                label: "",
                problem: Problem::Empty
            }
            .to_string(),
            "the part \"\" is not a DNS-1123 label (it is empty)"
        );
    }
}
