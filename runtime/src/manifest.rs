//! The provider manifest: what a provider binary serves and needs, as JSON (for
//! `eso-gen chart`) — kinds with their CRDs, capabilities and scope, generators,
//! the Kubernetes permissions, and the ports. And the CRDs alone, as YAML.

use crate::crd::{CustomResourceDefinition, check_structural};
use crate::dispatch::Registry;
use crate::{Error, Gvk, ProviderInfo, Result};
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde::Serialize;

/// The gRPC and HTTP ports the binary listens on by default.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Ports {
    /// gRPC (mTLS).
    pub grpc: u16,
    /// HTTP: `/metrics`, `/healthz`, `/readyz`.
    pub metrics: u16,
}

/// One served kind.
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
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
        ports: Ports {
            grpc: 8080,
            metrics: 8081,
        },
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
}
