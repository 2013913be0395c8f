//! Group, version and kind of the custom resources a provider serves.

use serde::de::DeserializeOwned;
use std::fmt;

/// A Kubernetes group, version and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    /// API group, e.g. `provider.external-secrets.io`.
    pub group: &'static str,
    /// API version, e.g. `v2alpha1`.
    pub version: &'static str,
    /// Kind, e.g. `Fake`.
    pub kind: &'static str,
}

impl Gvk {
    /// The default group for provider configuration kinds (WIRE.md).
    pub const DEFAULT_GROUP: &'static str = "provider.external-secrets.io";
    /// The default version for provider configuration kinds (WIRE.md).
    pub const DEFAULT_VERSION: &'static str = "v2alpha1";

    /// `group/version`, as `apiVersion` is written.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// Whether `api_version` and `kind` name this GVK.
    pub fn matches(&self, api_version: &str, kind: &str) -> bool {
        // Compared in place, without searching for the '/': every call dispatches on it.
        kind == self.kind
            && api_version.len() == self.group.len() + 1 + self.version.len()
            && api_version.starts_with(self.group)
            && api_version.ends_with(self.version)
            && api_version.as_bytes().get(self.group.len()) == Some(&b'/')
    }
}

impl fmt::Display for Gvk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {}", self.group, self.version, self.kind)
    }
}

/// A spec struct: the `spec` of a provider's or generator's custom resource.
///
/// ```
/// use eso_runtime::{Gvk, ProviderSpec};
///
/// #[derive(serde::Deserialize)]
/// struct EchoSpec { greeting: String }
///
/// impl ProviderSpec for EchoSpec {
///     const GVK: Gvk = Gvk { group: Gvk::DEFAULT_GROUP, version: Gvk::DEFAULT_VERSION, kind: "Echo" };
/// }
/// assert_eq!(EchoSpec::GVK.api_version(), "provider.external-secrets.io/v2alpha1");
/// ```
pub trait ProviderSpec: DeserializeOwned + Send + Sync + 'static {
    /// The custom resource's group, version and kind.
    const GVK: Gvk;

    /// The custom resource definition, checked against the structural rules.
    /// `#[provider_spec]` and `#[generator_spec]` generate it from the struct;
    /// hand-written specs have none.
    fn crd() -> Option<crate::Result<crate::crd::CustomResourceDefinition>> {
        None
    }
}

/// Splits and checks an `apiVersion`: `group/version`, both non-empty.
pub(crate) fn parse_api_version(api_version: &str) -> Option<(&str, &str)> {
    let (group, version) = api_version.split_once('/')?;
    if group.is_empty() || version.is_empty() || version.contains('/') {
        return None;
    }
    Some((group, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_version_parsing() {
        assert_eq!(parse_api_version("a.io/v1"), Some(("a.io", "v1")));
        assert_eq!(parse_api_version("v1"), None);
        assert_eq!(parse_api_version("/v1"), None);
        assert_eq!(parse_api_version("a/b/c"), None);
        let gvk = Gvk {
            group: "a.io",
            version: "v1",
            kind: "K",
        };
        assert!(gvk.matches("a.io/v1", "K"));
        assert!(!gvk.matches("a.io/v2", "K"));
        assert!(!gvk.matches("a.io/v1", "k"));
    }
}
