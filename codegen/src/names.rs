//! Checks of Kubernetes names and certificate names given on the command line.

use anyhow::{Result, bail};

/// The longest DNS-1123 label.
const MAX_LABEL: usize = 63;
/// The longest DNS-1123 subdomain.
const MAX_SUBDOMAIN: usize = 253;

/// Why `text` is not a DNS-1123 label, if it is not one.
fn label_problem(text: &str) -> Option<&'static str> {
    if text.is_empty() {
        return Some("it is empty");
    }
    if text.len() > MAX_LABEL {
        return Some("it is longer than 63 characters");
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Some("it may contain only lowercase letters, digits and '-'");
    }
    if text.starts_with('-') || text.ends_with('-') {
        return Some("it must start and end with a letter or digit");
    }
    None
}

/// Checks that `value` (given as `flag`) is a DNS-1123 label, as Service and
/// namespace names are.
pub fn check_label(flag: &str, value: &str) -> Result<()> {
    match label_problem(value) {
        None => Ok(()),
        Some(problem) => {
            bail!("{flag} {value:?} is not a valid Kubernetes name (a DNS-1123 label, e.g. provider-vault): {problem}")
        }
    }
}

/// Checks that `value` (given as `flag`) is a DNS-1123 subdomain: labels joined by dots.
pub fn check_subdomain(flag: &str, value: &str) -> Result<()> {
    if value.len() > MAX_SUBDOMAIN {
        bail!("{flag} {value:?} is longer than 253 characters");
    }
    for label in value.split('.') {
        if let Some(problem) = label_problem(label) {
            bail!("{flag} {value:?} is not a valid DNS name: the part {label:?} is not a DNS-1123 label ({problem})");
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
