//! The `Fake` kind's spec.

use eso_runtime::{Error, Result};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// An in-memory secret store for testing External Secrets Operator: serves the
/// entries listed here and keeps what is pushed to it.
#[eso_runtime::provider_spec(kind = "Fake", shortname = "fake")]
#[derive(Default)]
pub struct FakeSpec {
    /// The secrets this store serves.
    #[serde(default)]
    pub data: Vec<FakeEntry>,
    /// Simulated backend latency for every call, e.g. 250ms (for deadline and
    /// shutdown tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
}

/// One secret (one version of it).
#[eso_runtime::spec_type]
#[derive(Default)]
pub struct FakeEntry {
    /// The secret's key.
    pub key: String,
    /// The value (JSON text when properties or a map are read from it).
    #[serde(default)]
    pub value: String,
    /// The version; empty for the unversioned value.
    #[serde(default)]
    pub version: String,
    /// Values for GetSecretMap (upstream's valueMap); otherwise value is read as a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_map: Option<BTreeMap<String, String>>,
    /// Tags GetAllSecrets filters on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl FakeSpec {
    /// Checks the spec: keys non-empty, no key+version twice, a valid latency.
    pub fn check(&self) -> Result<()> {
        let mut seen = HashSet::new();
        for (index, entry) in self.data.iter().enumerate() {
            if entry.key.is_empty() {
                return Err(Error::invalid_config(format!("spec.data[{index}].key is empty")));
            }
            if !seen.insert((entry.key.as_str(), entry.version.as_str())) {
                return Err(Error::invalid_config(format!(
                    "spec.data[{index}]: key {} version {:?} is listed twice",
                    entry.key, entry.version
                )));
            }
        }
        self.latency()?;
        Ok(())
    }

    /// The simulated latency.
    pub fn latency(&self) -> Result<Duration> {
        match &self.latency {
            None => Ok(Duration::ZERO),
            Some(text) => eso_runtime::util::parse_duration(text)
                .map_err(|error| Error::invalid_config(format!("spec.latency: {error}"))),
        }
    }
}
