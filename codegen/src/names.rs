//! Every name eso-gen checks, and how it says no: the rules are [`eso_names`]' (shared with
//! the macros, so `eso-gen new` accepts exactly the kinds and groups `#[provider_spec]`
//! does); each check here words the refusal for where the name came from.

use anyhow::{Result, bail};
use eso_names::{Problem, SubdomainProblem};
use eso_runtime::Gvk;

/// Checks that `value` (given as `flag`) is a DNS-1123 label, as Service and
/// namespace names are.
pub fn check_label(flag: &str, value: &str) -> Result<()> {
    match eso_names::dns1123_label(value) {
        Ok(()) => Ok(()),
        Err(problem) => {
            bail!("{flag} {value:?} is not a valid Kubernetes name (a DNS-1123 label, e.g. provider-vault): {problem}")
        }
    }
}

/// Checks that `value` (given as `flag`) is a DNS-1123 subdomain: labels joined by dots.
pub fn check_subdomain(flag: &str, value: &str) -> Result<()> {
    match eso_names::dns1123_subdomain(value) {
        Ok(()) => Ok(()),
        Err(SubdomainProblem::Label { label, problem }) => {
            bail!("{flag} {value:?} is not a valid DNS name: the part {label:?} is not a DNS-1123 label ({problem})")
        }
        Err(SubdomainProblem::TooLong { .. }) => bail!(
            "{flag} {value:?} is longer than {} characters",
            eso_names::MAX_SUBDOMAIN
        ),
        Err(problem @ SubdomainProblem::NoDot) => bail!("{flag} {value:?} is not a valid DNS name: {problem}"),
    }
}

/// Checks an extra certificate name: an IP address, a DNS name, or a wildcard
/// (`*.example.com`).
pub fn check_certificate_name(flag: &str, value: &str) -> Result<()> {
    if value.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let name = value.strip_prefix("*.").unwrap_or(value);
    check_subdomain(flag, name).map_err(|error| {
        anyhow::anyhow!("{error}; an IP address or a DNS name such as provider.example.com is expected")
    })
}

/// Crate names the project cannot take: Rust keywords, the standard crates, and the
/// project's own dependencies (`templates/new/base/Cargo.toml.hbs`; as crate names, `-`
/// read as `_`).
const RESERVED_CRATE_NAMES: &[&str] = &[
    "abstract",
    "alloc",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "core",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "eso_runtime",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "proc_macro",
    "pub",
    "rand",
    "ref",
    "return",
    "self",
    "serde",
    "serde_json",
    "static",
    "std",
    "struct",
    "super",
    "test",
    "tokio",
    "tonic",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
];

/// Checks a project name (`eso-gen new`): a DNS-1123 label (it names Kubernetes objects),
/// starting with a letter (it names a Cargo package), and not a name Rust or the
/// dependencies take.
pub fn check_project_name(name: &str) -> Result<()> {
    let rule = "a project name must be a DNS-1123 label: lowercase letters, digits and '-', \
                starting and ending with a letter or digit, at most 63 characters";
    match eso_names::dns1035_label(name) {
        Ok(()) => {}
        Err(Problem::Empty) => bail!("the project name is empty; {rule}, e.g. acme-vault"),
        Err(Problem::TooLong { len, .. }) => bail!("project name {name:?} is {len} characters long; {rule}"),
        Err(Problem::Character(bad)) => bail!("project name {name:?} contains {bad:?}; {rule}, e.g. acme-vault"),
        Err(Problem::Hyphen) => bail!("project name {name:?} starts or ends with '-'; {rule}"),
        Err(Problem::Digit) => bail!(
            "project name {name:?} starts with a digit; it must start with a letter, since it names a Cargo package"
        ),
        Err(problem @ Problem::NotUpperCamelCase) => bail!("project name {name:?}: {problem}; {rule}"),
    }
    let crate_name = name.replace('-', "_");
    if RESERVED_CRATE_NAMES.contains(&crate_name.as_str()) {
        bail!(
            "project name {name:?} is taken: the crate {crate_name} would clash with a Rust keyword, a standard crate or a dependency of the project"
        );
    }
    Ok(())
}

/// Checks a kind (`eso-gen new --kind`): an UpperCamelCase identifier (letters and digits,
/// starting with an upper-case letter) whose plural fits in a DNS label.
pub fn check_kind(kind: &str) -> Result<()> {
    let rule =
        "a kind must be UpperCamelCase: ASCII letters and digits, starting with an upper-case letter, e.g. AcmeVault";
    match eso_names::kind(kind) {
        Ok(()) => Ok(()),
        Err(Problem::Empty) => bail!("the kind is empty; {rule}"),
        // kube-derive's plural is the lower-cased kind plus "s"; the API server wants a DNS label.
        Err(Problem::TooLong { len, max }) => bail!(
            "kind {kind:?} is {len} characters long; its plural must fit in {} characters, so at most {max}",
            eso_names::MAX_LABEL
        ),
        Err(_) => bail!("kind {kind:?} is not UpperCamelCase; {rule}"),
    }
}

/// Checks an API group (`eso-gen new --group`): a lowercase DNS subdomain with at least
/// one dot.
pub fn check_group(group: &str) -> Result<()> {
    if eso_names::api_group(group).is_err() {
        bail!(
            "group {group:?} must be a lowercase DNS name with at least one dot, e.g. {}",
            Gvk::DEFAULT_GROUP
        );
    }
    Ok(())
}

/// The chart's pod label `app.kubernetes.io/name` is this followed by the provider name.
pub const PROVIDER_LABEL_PREFIX: &str = "external-secrets-provider-";

/// Checks a provider name (`eso-gen chart --name`): a DNS-1035 label that leaves room for
/// the names built from it (the label value `external-secrets-provider-<name>` is at most
/// 63 characters).
pub fn check_provider_name(name: &str) -> Result<()> {
    let max = eso_names::MAX_LABEL - PROVIDER_LABEL_PREFIX.len();
    if eso_names::dns1035_label(name).is_err() || name.len() > max {
        bail!(
            "{name:?} is not a valid provider name: lowercase letters, digits and '-', starting with a letter, at most {max} characters (e.g. vault)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error<T: std::fmt::Debug>(result: Result<T>) -> String {
        match result {
            Ok(value) => panic!("expected an error, got {value:?}"),
            Err(error) => format!("{error:#}"),
        }
    }

    #[test]
    fn labels() {
        assert!(check_label("--service", "provider-vault").is_ok());
        assert!(check_label("--service", "a").is_ok());
        for bad in ["", "Provider", "provider_vault", "-a", "a-", "a.b", &"a".repeat(64)] {
            let error = check_label("--service", bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains("--service"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn certificate_names() {
        for good in ["10.0.0.1", "::1", "provider.example.com", "*.example.com", "localhost"] {
            assert!(check_certificate_name("--dns", good).is_ok(), "{good}");
        }
        for bad in ["", "a..b", "exa mple.com", "UPPER.example.com", "*"] {
            assert!(check_certificate_name("--dns", bad).is_err(), "{bad}");
        }
        assert!(check_subdomain("--cluster-domain", "cluster.local").is_ok());
        let long = format!("{}.local", "a.".repeat(125));
        assert!(error(check_subdomain("--cluster-domain", &long)).contains("longer than 253 characters"));
    }

    #[test]
    fn project_names_are_dns_labels_starting_with_a_letter() {
        for ok in ["acme", "acme-vault", "a", "a1", "vault-2", &"a".repeat(63)] {
            assert!(check_project_name(ok).is_ok(), "{ok}");
        }
        for (bad, needle) in [
            ("", "empty"),
            ("Acme", "contains 'A'"),
            ("acme_vault", "contains '_'"),
            ("acme.vault", "contains '.'"),
            ("-acme", "starts or ends with '-'"),
            ("acme-", "starts or ends with '-'"),
            ("1acme", "starts with a digit"),
            ("fn", "taken"),
            ("tokio", "taken"),
            ("serde-json", "taken"),
        ] {
            let message = error(check_project_name(bad));
            assert!(message.contains(needle), "{bad:?}: {message}");
            assert!(
                message.contains(&format!("{bad:?}")) || bad.is_empty(),
                "names the value: {message}"
            );
        }
        let long = "a".repeat(64);
        let message = error(check_project_name(&long));
        assert!(
            message.contains("64 characters") && message.contains("DNS-1123"),
            "{message}"
        );
        // The rule is in the message.
        assert!(error(check_project_name("a b")).contains("lowercase letters, digits and '-'"));
    }

    #[test]
    fn kinds_are_upper_camel_case() {
        for ok in ["Acme", "AcmeVault", "V2", "S3Bucket"] {
            assert!(check_kind(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "acme",
            "Acme-Vault",
            "Acme_Vault",
            "Ac me",
            "Äcme",
            "1Acme",
            &"A".repeat(63),
        ] {
            let message = error(check_kind(bad));
            assert!(message.contains("kind"), "{bad:?}: {message}");
        }
        assert!(error(check_kind("acme")).contains("UpperCamelCase"));
        assert!(
            error(check_kind(&"A".repeat(63)))
                .contains("is 63 characters long; its plural must fit in 63 characters, so at most 62")
        );
    }

    #[test]
    fn groups_are_dns_names() {
        assert!(check_group("provider.external-secrets.io").is_ok());
        assert!(check_group("acme.example.com").is_ok());
        for bad in ["acme", "Acme.io", "acme..io", "-acme.io", "acme_x.io"] {
            assert!(error(check_group(bad)).contains("lowercase DNS name"), "{bad}");
        }
    }

    #[test]
    fn provider_names_leave_room_for_the_pod_label() -> Result<()> {
        check_provider_name("vault")?;
        check_provider_name(&"a".repeat(37))?;
        for bad in ["", "Vault", "1vault", "vault-", "va.ult", &"a".repeat(38)] {
            assert!(
                error(check_provider_name(bad)).contains("not a valid provider name"),
                "{bad:?}"
            );
        }
        assert!(error(check_provider_name("Vault")).contains("at most 37 characters"));
        Ok(())
    }
}
