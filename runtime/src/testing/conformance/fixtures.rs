//! What the backend holds before the suite runs: [`Fixtures`], built in code or
//! parsed from YAML (the `--fixtures FILE` of `eso-gen conformance`).
//!
//! ```yaml
//! # Every field but `key` is optional; give `value` or `valueBase64`, and/or `map`.
//! secrets:
//!   - key: greeting
//!     value: conformance-greeting      # GetSecret returns exactly these bytes (UTF-8)
//!   - key: binary
//!     valueBase64: AP8Q                # … or these (base64)
//!   - key: db/credentials
//!     property: password               # GetSecret of one property
//!     value: pw-conformance
//!   - key: db/credentials
//!     version: v1                      # GetSecret of one version
//!     value: old-credentials
//!   - key: db/credentials
//!     map: {username: app, password: pw-conformance}   # GetSecretMap returns exactly this
//! finds:               # GetAllSecrets (dataFrom.find) and exactly the keys it answers
//!   - path: db/
//!     keys: [db/credentials]
//!   - tags: {team: payments}           # every tag must match
//!     regexp: '^g'                     # and the name
//!     keys: [greeting]
//! seed: false          # true: push the entries without version/property first (writable providers)
//! missingKey: eso-conformance-no-such-secret   # a key the backend does not hold
//! keyPrefix: eso-conformance-                  # where the suite writes its own keys
//! missingVersion: '999999999'   # a version it does not hold (default: this when versions are numbers)
//! pushProperty: value  # push and read back the suite's values under this property (JSON-object stores)
//! textValues: false    # true: the backend stores text only (the binary round trip is skipped)
//! ```

use crate::testing::TestResult;
use base64::Engine;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One secret the backend holds: a key, optionally one version or one property of
/// it, and what GetSecret (`value`) and/or GetSecretMap (`map`) return for it.
#[derive(Clone, PartialEq, Eq)]
pub struct Fixture {
    /// The remote key.
    pub key: String,
    /// The version asked for (`None`: the current value).
    pub version: Option<String>,
    /// The property asked for (`None`: the whole value).
    pub property: Option<String>,
    /// What GetSecret returns, byte for byte.
    pub value: Option<Vec<u8>>,
    /// What GetSecretMap returns, byte for byte.
    pub map: Option<BTreeMap<String, Vec<u8>>>,
}

// Values are secrets: never in a Debug line.
impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture")
            .field("key", &self.key)
            .field("version", &self.version)
            .field("property", &self.property)
            .field("value", &self.value.as_ref().map(|v| format!("<{} bytes>", v.len())))
            .field("map", &self.map.as_ref().map(|m| m.keys().collect::<Vec<_>>()))
            .finish()
    }
}

impl Fixture {
    /// `key` holds `value` (GetSecret returns it).
    pub fn value(key: &str, value: impl AsRef<[u8]>) -> Self {
        Fixture {
            key: key.to_string(),
            version: None,
            property: None,
            value: Some(value.as_ref().to_vec()),
            map: None,
        }
    }

    /// GetSecretMap of `key` returns exactly `pairs`.
    pub fn map(key: &str, pairs: &[(&str, &str)]) -> Self {
        Fixture {
            key: key.to_string(),
            version: None,
            property: None,
            value: None,
            map: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                    .collect(),
            ),
        }
    }

    /// The same, at `version`.
    pub fn at_version(mut self, version: &str) -> Self {
        self.version = Some(version.to_string());
        self
    }

    /// The same, for one `property`.
    pub fn of_property(mut self, property: &str) -> Self {
        self.property = Some(property.to_string());
        self
    }

    /// `key`, with ` (version v)` and ` property p` when set: how reports name it.
    pub fn label(&self) -> String {
        let mut label = crate::display::bounded(&self.key).to_string();
        if let Some(version) = &self.version {
            label.push_str(&format!(" (version {})", crate::display::bounded(version)));
        }
        if let Some(property) = &self.property {
            label.push_str(&format!(" property {}", crate::display::bounded(property)));
        }
        label
    }

    /// A plain value (no version, no property): one that can be pushed, found and read as is.
    pub fn is_plain(&self) -> bool {
        self.version.is_none() && self.property.is_none() && self.value.is_some()
    }
}

/// A GetAllSecrets the backend answers with exactly these keys (`dataFrom.find`
/// by path, name regexp and tags: which secrets match depends on the backend, so
/// the fixtures say it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindFixture {
    /// `find.path` (`None`: not sent).
    pub path: Option<String>,
    /// `find.name.regexp` (`None`: not sent).
    pub regexp: Option<String>,
    /// `find.tags`: every one must match.
    pub tags: BTreeMap<String, String>,
    /// The keys the answer holds, no more, no fewer.
    pub keys: BTreeSet<String>,
}

impl FindFixture {
    /// A find under `path` that answers `keys`.
    pub fn by_path(path: &str, keys: &[&str]) -> Self {
        FindFixture {
            path: Some(path.to_string()),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            ..FindFixture::default()
        }
    }

    /// A find of the secrets carrying `tags` that answers `keys`.
    pub fn by_tags(tags: &[(&str, &str)], keys: &[&str]) -> Self {
        FindFixture {
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            ..FindFixture::default()
        }
    }

    /// The same, also by name `regexp`.
    pub fn named(mut self, regexp: &str) -> Self {
        self.regexp = Some(regexp.to_string());
        self
    }

    /// `path p, name r, tags {k=v}`: how reports name it.
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if let Some(path) = &self.path {
            parts.push(format!("path {}", crate::display::bounded(path)));
        }
        if let Some(regexp) = &self.regexp {
            parts.push(format!("name {}", crate::display::bounded(regexp)));
        }
        if !self.tags.is_empty() {
            let tags: Vec<String> = self
                .tags
                .iter()
                .map(|(k, v)| format!("{}={}", crate::display::bounded(k), crate::display::bounded(v)))
                .collect();
            parts.push(format!("tags {{{}}}", tags.join(", ")));
        }
        parts.join(", ")
    }
}

/// What the backend holds, and where the suite may write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fixtures {
    /// The secrets the backend holds.
    pub secrets: Vec<Fixture>,
    /// GetAllSecrets calls and the keys each answers.
    pub finds: Vec<FindFixture>,
    /// Push the plain secrets (no version, no property) before the cases run, and
    /// delete them after; only when the provider can write.
    pub seed: bool,
    /// A key the backend does not hold (default: one under the suite's prefix).
    pub missing_key: Option<String>,
    /// The prefix of the keys the suite writes (default `eso-conformance-`); each
    /// run adds its own id after it.
    pub key_prefix: Option<String>,
    /// Push the suite's values under this property and read them back from it
    /// (stores whose secrets are JSON objects, such as Vault's KV); SecretExists
    /// and DeleteSecret still name the whole key.
    pub push_property: Option<String>,
    /// The backend stores text only: the binary round trip is skipped.
    pub text_values: bool,
    /// A version the backend does not hold (default: `999999999` when a fixture's
    /// version is a number, else `eso-conformance-no-such-version`).
    pub missing_version: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FixturesFile {
    #[serde(default)]
    secrets: Vec<FixtureEntry>,
    #[serde(default)]
    finds: Vec<FindEntry>,
    #[serde(default)]
    seed: bool,
    #[serde(default)]
    missing_key: Option<String>,
    #[serde(default)]
    key_prefix: Option<String>,
    #[serde(default)]
    push_property: Option<String>,
    #[serde(default)]
    text_values: bool,
    #[serde(default)]
    missing_version: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FixtureEntry {
    key: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    property: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    value_base64: Option<String>,
    #[serde(default)]
    map: Option<BTreeMap<String, String>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FindEntry {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    regexp: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    keys: BTreeSet<String>,
}

impl Fixtures {
    /// No fixtures: the suite only uses what it writes itself.
    pub fn new() -> Self {
        Fixtures::default()
    }

    /// These secrets.
    pub fn of(secrets: impl IntoIterator<Item = Fixture>) -> Self {
        Fixtures {
            secrets: secrets.into_iter().collect(),
            ..Fixtures::default()
        }
    }

    /// The same, pushing the suite's values under `property` (see [`Fixtures::push_property`]).
    pub fn pushing_under(mut self, property: &str) -> Self {
        self.push_property = Some(property.to_string());
        self
    }

    /// The same, for a backend that stores text only (see [`Fixtures::text_values`]).
    pub fn with_text_values(mut self) -> Self {
        self.text_values = true;
        self
    }

    /// The same, with these finds.
    pub fn with_finds(mut self, finds: impl IntoIterator<Item = FindFixture>) -> Self {
        self.finds.extend(finds);
        self
    }

    /// Parses the YAML format above. Errors name the entry and the field, never a value.
    ///
    /// ```
    /// use eso_runtime::testing::conformance::Fixtures;
    ///
    /// let fixtures = Fixtures::from_yaml("secrets:\n  - {key: a, value: hello}\n  - {key: b, valueBase64: AP8=}\n").unwrap();
    /// assert_eq!(fixtures.secrets[1].value.as_deref(), Some(&[0x00, 0xff][..]));
    /// assert!(Fixtures::from_yaml("secrets:\n  - {key: a}\n").is_err());
    /// ```
    pub fn from_yaml(text: &str) -> TestResult<Self> {
        if text.trim().is_empty() {
            return Ok(Fixtures::default());
        }
        let file: FixturesFile = serde_yaml::from_str(text)
            .map_err(|e| format!("fixtures: {}", crate::error::without_quoted_values(&e.to_string())))?;
        let mut secrets = Vec::with_capacity(file.secrets.len());
        for (index, entry) in file.secrets.into_iter().enumerate() {
            let at = format!("fixtures: secrets[{index}]");
            if entry.key.is_empty() {
                return Err(format!("{at}.key is empty").into());
            }
            let value = match (entry.value, entry.value_base64) {
                (Some(_), Some(_)) => return Err(format!("{at}: give value or valueBase64, not both").into()),
                (Some(text), None) => Some(text.into_bytes()),
                (None, Some(encoded)) => Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(encoded.trim())
                        .map_err(|_| format!("{at}.valueBase64 is not base64"))?,
                ),
                (None, None) => None,
            };
            if value.is_none() && entry.map.is_none() {
                return Err(format!(
                    "{at} ({}): give value, valueBase64 or map",
                    crate::display::bounded(&entry.key)
                )
                .into());
            }
            let non_empty = |field: Option<String>, name: &str| -> TestResult<Option<String>> {
                match field {
                    Some(text) if text.is_empty() => Err(format!("{at}.{name} is empty (leave it out)").into()),
                    other => Ok(other),
                }
            };
            secrets.push(Fixture {
                key: entry.key,
                version: non_empty(entry.version, "version")?,
                property: non_empty(entry.property, "property")?,
                value,
                map: entry
                    .map
                    .map(|map| map.into_iter().map(|(k, v)| (k, v.into_bytes())).collect()),
            });
        }
        let mut finds = Vec::with_capacity(file.finds.len());
        for (index, entry) in file.finds.into_iter().enumerate() {
            let at = format!("fixtures: finds[{index}]");
            if entry.path.is_none() && entry.regexp.is_none() && entry.tags.is_empty() {
                return Err(format!("{at}: give path, regexp or tags").into());
            }
            if let Some(regexp) = &entry.regexp {
                crate::request::compile_find_regexp(regexp)
                    .map_err(|error| format!("{at}.regexp: {}", error.message()))?;
            }
            finds.push(FindFixture {
                path: entry.path,
                regexp: entry.regexp,
                tags: entry.tags,
                keys: entry.keys,
            });
        }
        if file.missing_key.as_deref() == Some("") {
            return Err("fixtures: missingKey is empty (leave it out)".into());
        }
        if let Some(missing) = &file.missing_key
            && secrets.iter().any(|s| &s.key == missing)
        {
            return Err(format!(
                "fixtures: missingKey {} is a fixture's key",
                crate::display::bounded(missing)
            )
            .into());
        }
        for (name, field) in [
            ("pushProperty", &file.push_property),
            ("missingVersion", &file.missing_version),
        ] {
            if field.as_deref() == Some("") {
                return Err(format!("fixtures: {name} is empty (leave it out)").into());
            }
        }
        Ok(Fixtures {
            secrets,
            finds,
            seed: file.seed,
            missing_key: file.missing_key,
            key_prefix: file.key_prefix,
            push_property: file.push_property,
            text_values: file.text_values,
            missing_version: file.missing_version,
        })
    }

    /// Reads and parses a fixtures file.
    pub fn from_file(path: impl AsRef<Path>) -> TestResult<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_yaml(&text).map_err(|e| format!("{}: {}", path.display(), e.message()).into())
    }

    /// The version `store.get.missing-version` asks `fixture`'s key for.
    pub fn missing_version_of(&self, fixture: &Fixture) -> String {
        if let Some(version) = &self.missing_version {
            return version.clone();
        }
        let numeric = fixture
            .version
            .as_deref()
            .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
        if numeric {
            "999999999"
        } else {
            "eso-conformance-no-such-version"
        }
        .to_string()
    }

    /// The secrets with a plain value (no version, no property).
    pub fn plain(&self) -> impl Iterator<Item = &Fixture> {
        self.secrets.iter().filter(|s| s.is_plain())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let finds =
            "finds:\n  - {path: db/, keys: [db/credentials]}\n  - {tags: {team: a}, regexp: '^g', keys: [greeting]}\n";
        let parsed = Fixtures::from_yaml(finds).unwrap();
        assert_eq!(
            parsed.finds,
            vec![
                FindFixture::by_path("db/", &["db/credentials"]),
                FindFixture::by_tags(&[("team", "a")], &["greeting"]).named("^g")
            ]
        );
        assert_eq!(parsed.finds[1].label(), "name ^g, tags {team=a}");
        let text = "secrets:\n  - key: greeting\n    value: conformance-greeting\n  - key: binary\n    valueBase64: AP8Q\n  - key: db/credentials\n    property: password\n    value: pw\n  - key: db/credentials\n    version: v1\n    value: old\n  - key: db/credentials\n    map: {username: app, password: pw}\nseed: true\nmissingKey: nope\nkeyPrefix: x-\n";
        let fixtures = Fixtures::from_yaml(text).unwrap();
        assert_eq!(fixtures.secrets.len(), 5);
        assert_eq!(fixtures.secrets[1].value.as_deref(), Some(&[0x00, 0xff, 0x10][..]));
        assert_eq!(fixtures.secrets[2].label(), "db/credentials property password");
        assert_eq!(fixtures.secrets[3].label(), "db/credentials (version v1)");
        assert_eq!(fixtures.plain().count(), 2);
        assert!(fixtures.seed);
        assert_eq!(fixtures.missing_key.as_deref(), Some("nope"));
        assert_eq!(fixtures.key_prefix.as_deref(), Some("x-"));
        assert_eq!(
            fixtures.missing_version_of(&fixtures.secrets[3]),
            "eso-conformance-no-such-version"
        );
        let vault = Fixtures::from_yaml(
            "secrets:\n  - {key: a, version: '1', value: v}\npushProperty: value\ntextValues: true\n",
        )
        .unwrap();
        assert_eq!(vault.missing_version_of(&vault.secrets[0]), "999999999");
        assert_eq!(
            (vault.push_property.as_deref(), vault.text_values),
            (Some("value"), true)
        );
        let named =
            Fixtures::from_yaml("secrets:\n  - {key: a, version: '1', value: v}\nmissingVersion: '42'\n").unwrap();
        assert_eq!(named.missing_version_of(&named.secrets[0]), "42");
        assert_eq!(Fixtures::from_yaml("").unwrap(), Fixtures::default());
    }

    #[test]
    fn mistakes_are_named_without_values() {
        for (text, needle) in [
            ("secrets:\n  - {key: '', value: v}\n", "secrets[0].key is empty"),
            ("secrets:\n  - {key: a}\n", "give value, valueBase64 or map"),
            ("secrets:\n  - {key: a, value: s3cr3t, valueBase64: AA==}\n", "not both"),
            (
                "secrets:\n  - {key: a, valueBase64: 's3cr3t!'}\n",
                "valueBase64 is not base64",
            ),
            ("secrets:\n  - {key: a, value: v, version: ''}\n", "version is empty"),
            ("secrets:\n  - {key: a, vaule: s3cr3t}\n", "unknown field"),
            (
                "secrets:\n  - {key: a, value: v}\nmissingKey: a\n",
                "is a fixture's key",
            ),
            ("secrets: s3cr3t\n", "fixtures:"),
            ("finds:\n  - {keys: [a]}\n", "finds[0]: give path, regexp or tags"),
            ("pushProperty: ''\n", "pushProperty is empty"),
            ("finds:\n  - {regexp: '(', keys: [a]}\n", "finds[0].regexp"),
            ("finds:\n  - {path: a}\n", "keys"),
        ] {
            let error = Fixtures::from_yaml(text).unwrap_err();
            assert!(error.message().contains(needle), "{text}: {error:?}");
            assert!(!error.message().contains("s3cr3t"), "{text}: {error:?}");
        }
    }

    #[test]
    fn debug_shows_no_value() {
        let text = format!("{:?}", Fixture::value("k", "s3cr3t-value"));
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("12 bytes"), "{text}");
    }
}
