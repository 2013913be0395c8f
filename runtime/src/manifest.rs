//! The provider manifest: what a provider binary serves and needs, as JSON (for
//! `eso-gen chart` and `eso-gen crds`) — kinds with their CRDs, capabilities and scope,
//! generators, the Kubernetes permissions, and the ports. And the CRDs alone, as YAML.
//!
//! The JSON is the interface between a provider binary (`PROVIDER manifest` prints
//! [`Manifest::to_json`]) and eso-gen (which reads it back with [`Manifest::from_json`]),
//! so both sides use these types; the binary and eso-gen may be built from different
//! versions of this crate, so a field is only ever added, and only as optional.

use crate::crd::{CustomResourceDefinition, check_structural};
use crate::server::registry::Registry;
use crate::{Error, Gvk, ProviderInfo, Result};
use serde::{Deserialize, Serialize};

/// The type of [`Manifest::permissions`], for code that reads a manifest.
pub use k8s_openapi::api::rbac::v1::PolicyRule;

/// The ports a provider binary listens on unless told otherwise (`--grpc-port` /
/// `GRPC_PORT`, `--metrics-port` / `METRICS_PORT`): the flags' defaults, the manifest's
/// `ports`, and so what the generated chart's Service and NetworkPolicy expose.
pub const DEFAULT_PORTS: Ports = Ports {
    grpc: 8080,
    metrics: 8081,
};

/// The gRPC and HTTP ports the binary listens on by default.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ports {
    /// gRPC (mTLS).
    pub grpc: u16,
    /// HTTP: `/metrics`, `/healthz`, `/readyz`.
    pub metrics: u16,
}

/// One served kind.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KindManifest {
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name.
    pub plural: String,
    /// Always `Namespaced`: provider objects live beside their credentials.
    pub scope: String,
    /// `READ_ONLY`, `WRITE_ONLY` or `READ_WRITE`; absent for generators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<String>,
    /// The CRD, when the spec has one (`#[provider_spec]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crd: Option<CustomResourceDefinition>,
}

/// Everything `eso-gen chart` needs to know about a provider binary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// The provider's crate name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Secret store kinds.
    pub kinds: Vec<KindManifest>,
    /// Generator kinds.
    pub generators: Vec<KindManifest>,
    /// The RBAC rules the provider needs, and nothing more.
    pub permissions: Vec<PolicyRule>,
    /// Default ports.
    pub ports: Ports,
}

fn kind_manifest(gvk: Gvk, crd: Option<CustomResourceDefinition>, capabilities: Option<String>) -> KindManifest {
    let plural = crd
        .as_ref()
        .map(|c| c.spec.names.plural.clone())
        .unwrap_or_else(|| format!("{}s", gvk.kind.to_lowercase()));
    KindManifest {
        group: gvk.group.to_string(),
        version: gvk.version.to_string(),
        kind: gvk.kind.to_string(),
        plural,
        scope: "Namespaced".into(),
        capabilities,
        crd,
    }
}

fn rule(group: &str, resources: Vec<String>, verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(resources),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..Default::default()
    }
}

pub(crate) fn build(info: ProviderInfo, registry: &Registry) -> Result<Manifest> {
    let kinds: Vec<KindManifest> = registry
        .stores()
        .iter()
        .map(|store| {
            let capabilities = eso_proto::provider::v1::SecretStoreCapabilities::from(store.capabilities())
                .as_str_name()
                .to_string();
            Ok(kind_manifest(store.gvk(), store.crd().transpose()?, Some(capabilities)))
        })
        .collect::<Result<_>>()?;
    let generators: Vec<KindManifest> = registry
        .generators()
        .iter()
        .map(|generator| Ok(kind_manifest(generator.gvk(), generator.crd().transpose()?, None)))
        .collect::<Result<_>>()?;
    // Exactly what the Kubernetes source does: it lists and watches its own kinds
    // and the Secrets they reference, and patches (server-side apply) the status of
    // secret store objects (generators have none written). Grouped per API group.
    let mut groups: std::collections::BTreeMap<&str, (Vec<String>, Vec<String>)> = Default::default();
    for kind in &kinds {
        let (plurals, status) = groups.entry(&kind.group).or_default();
        plurals.push(kind.plural.clone());
        status.push(format!("{}/status", kind.plural));
    }
    for kind in &generators {
        groups.entry(&kind.group).or_default().0.push(kind.plural.clone());
    }
    let mut permissions = Vec::new();
    for (group, (mut plurals, mut status)) in groups {
        plurals.sort();
        plurals.dedup();
        status.sort();
        status.dedup();
        permissions.push(rule(group, plurals, &["list", "watch"]));
        if !status.is_empty() {
            permissions.push(rule(group, status, &["patch"]));
        }
    }
    permissions.push(rule("", vec!["secrets".into()], &["list", "watch"]));
    Ok(Manifest {
        name: info.name.to_string(),
        version: info.version.to_string(),
        kinds,
        generators,
        permissions,
        ports: DEFAULT_PORTS,
    })
}

impl Manifest {
    /// Every CRD, each checked against the structural schema rules.
    pub fn crds(&self) -> Result<Vec<&CustomResourceDefinition>> {
        let crds: Vec<&CustomResourceDefinition> = self
            .kinds
            .iter()
            .chain(&self.generators)
            .filter_map(|k| k.crd.as_ref())
            .collect();
        for crd in &crds {
            if let Err(violations) = check_structural(crd) {
                let lines: Vec<String> = violations.iter().map(|v| format!("  {v}")).collect();
                return Err(Error::invalid_config(format!(
                    "the CRD {} is not structural; the API server would reject it:\n{}",
                    crd.metadata.name.as_deref().unwrap_or("?"),
                    lines.join("\n")
                )));
            }
        }
        Ok(crds)
    }

    /// The CRDs as multi-document YAML.
    pub fn crds_yaml(&self) -> Result<String> {
        let mut out = String::new();
        for crd in self.crds()? {
            let yaml = serde_yaml::to_string(crd).map_err(|error| Error::internal(format!("CRD to YAML: {error}")))?;
            out.push_str("---\n");
            out.push_str(&yaml);
        }
        Ok(out)
    }

    /// The manifest as pretty JSON, CRDs checked first.
    pub fn to_json(&self) -> Result<String> {
        self.crds()?;
        serde_json::to_string_pretty(self).map_err(|error| Error::internal(format!("manifest to JSON: {error}")))
    }

    /// Reads a manifest back from the JSON [`Manifest::to_json`] writes; a refusal names
    /// the field (e.g. `kinds[0].plural`) and what is wrong with it.
    pub fn from_json(json: &[u8]) -> Result<Manifest> {
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        let manifest = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let at = error.path().to_string();
            let at = if at == "." { String::new() } else { format!(" at {at}") };
            Error::invalid_config(format!("the provider manifest is not valid{at}: {}", error.inner()))
        })?;
        deserializer
            .end()
            .map_err(|error| Error::invalid_config(format!("the provider manifest is not valid: {error}")))?;
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The manifest as a provider binary prints it and eso-gen reads it back: the field
    /// names, the layout, and optional fields left out when absent (the generator has no
    /// capabilities and no CRD). Binaries and eso-gen built from different versions of this
    /// crate talk through it, so this text changes only by adding optional fields.
    const JSON: &str = r#"{
  "name": "eso-provider-acme",
  "version": "1.2.3",
  "kinds": [
    {
      "group": "provider.external-secrets.io",
      "version": "v2alpha1",
      "kind": "Acme",
      "plural": "acmes",
      "scope": "Namespaced",
      "capabilities": "READ_WRITE",
      "crd": {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
          "name": "acmes.provider.external-secrets.io"
        },
        "spec": {
          "group": "provider.external-secrets.io",
          "names": {
            "kind": "Acme",
            "plural": "acmes"
          },
          "scope": "Namespaced",
          "versions": [
            {
              "name": "v2alpha1",
              "schema": {
                "openAPIV3Schema": {
                  "type": "object"
                }
              },
              "served": true,
              "storage": true
            }
          ]
        }
      }
    }
  ],
  "generators": [
    {
      "group": "provider.external-secrets.io",
      "version": "v2alpha1",
      "kind": "AcmeGenerator",
      "plural": "acmegenerators",
      "scope": "Namespaced"
    }
  ],
  "permissions": [
    {
      "apiGroups": [
        ""
      ],
      "resources": [
        "secrets"
      ],
      "verbs": [
        "list",
        "watch"
      ]
    }
  ],
  "ports": {
    "grpc": 8080,
    "metrics": 8081
  }
}"#;

    #[test]
    fn the_json_reads_back_into_the_same_manifest_and_text() -> Result<()> {
        let manifest = Manifest::from_json(JSON.as_bytes())?;
        assert_eq!(manifest.name, "eso-provider-acme");
        assert_eq!(manifest.ports, DEFAULT_PORTS);
        assert_eq!(manifest.kinds[0].capabilities.as_deref(), Some("READ_WRITE"));
        assert!(manifest.kinds[0].crd.is_some());
        assert_eq!(manifest.generators[0].capabilities, None);
        assert_eq!(manifest.generators[0].crd, None);
        assert_eq!(manifest.to_json()?, JSON);
        assert_eq!(Manifest::from_json(manifest.to_json()?.as_bytes())?, manifest);
        Ok(())
    }

    #[test]
    fn a_refusal_names_the_field() {
        let missing = JSON.replacen("\"plural\": \"acmegenerators\",", "", 1);
        let error = Manifest::from_json(missing.as_bytes())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("generators[0]") && error.contains("missing field `plural`"),
            "{error}"
        );
        let wrong = JSON.replacen("\"grpc\": 8080", "\"grpc\": \"8080\"", 1);
        let error = Manifest::from_json(wrong.as_bytes())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("ports.grpc"), "{error}");
        let error = Manifest::from_json(b"{} trailing")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("the provider manifest is not valid"), "{error}");
        assert!(Manifest::from_json(format!("{JSON} trailing").as_bytes()).is_err());
    }

    /// A field a newer provider binary adds is ignored, not refused.
    #[test]
    fn unknown_fields_are_ignored() -> Result<()> {
        let newer = JSON.replacen(
            "\"scope\": \"Namespaced\"\n",
            "\"scope\": \"Namespaced\",\n      \"later\": 1\n",
            1,
        );
        assert_ne!(newer, JSON);
        let manifest = Manifest::from_json(newer.as_bytes())?;
        assert_eq!(manifest.to_json()?, JSON);
        Ok(())
    }
}
