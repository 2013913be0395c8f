//! Provider objects and Secrets read from a folder of YAML manifests, reloaded when
//! the files change. A broken edit keeps the last good set and logs what is wrong.

use super::{Source, StoredObject, StoredSecret};
use crate::error::without_quoted_values;
use crate::{Error, Gvk, Result, SecretValue};
use arc_swap::ArcSwap;
use base64::Engine;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Entries by namespace, then name: looked up with borrowed `&str`s, so a call's
/// lookup allocates nothing.
type ByNamespace<T> = HashMap<String, HashMap<String, Arc<T>>>;

fn lookup<T>(map: &ByNamespace<T>, namespace: &str, name: &str) -> Option<Arc<T>> {
    map.get(namespace).and_then(|names| names.get(name)).cloned()
}

/// Whether `api_version` and `kind` are `gvk`'s, compared in place (no splitting,
/// no allocation: every call looks its object up).
fn names(gvk: &Gvk, api_version: &str, kind: &str) -> bool {
    kind == gvk.kind
        && api_version.len() == gvk.group.len() + 1 + gvk.version.len()
        && api_version.starts_with(gvk.group)
        && api_version.ends_with(gvk.version)
        && api_version.as_bytes().get(gvk.group.len()) == Some(&b'/')
}

/// The objects of one `apiVersion` and kind.
struct KindObjects {
    api_version: String,
    kind: String,
    objects: ByNamespace<StoredObject>,
}

#[derive(Default)]
struct Snapshot {
    /// One entry per `apiVersion` and kind (a folder holds a few).
    kinds: Vec<KindObjects>,
    secrets: ByNamespace<StoredSecret>,
}

impl Snapshot {
    fn kind(&self, gvk: &Gvk) -> Option<&KindObjects> {
        self.kinds.iter().find(|k| names(gvk, &k.api_version, &k.kind))
    }

    fn kind_mut(&mut self, api_version: &str, kind: &str) -> &mut KindObjects {
        let index = match self
            .kinds
            .iter()
            .position(|k| k.api_version == api_version && k.kind == kind)
        {
            Some(index) => index,
            None => {
                self.kinds.push(KindObjects {
                    api_version: api_version.to_string(),
                    kind: kind.to_string(),
                    objects: HashMap::new(),
                });
                self.kinds.len() - 1
            }
        };
        &mut self.kinds[index]
    }
}

/// Objects from `*.yaml`, `*.yml` and `*.json` files in one folder (and its
/// subfolders). Documents without a namespace are in `default`.
pub struct FilesSource {
    dir: PathBuf,
    snapshot: ArcSwap<Snapshot>,
    fingerprint: std::sync::Mutex<u64>,
}

impl FilesSource {
    /// Loads every manifest in `dir`; any invalid document is an error naming the
    /// file and the document.
    pub fn load(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let (files, fingerprint) = read_files(&dir)?;
        let snapshot = parse_files(&files)?;
        Ok(FilesSource {
            dir,
            snapshot: ArcSwap::from_pointee(snapshot),
            fingerprint: std::sync::Mutex::new(fingerprint),
        })
    }

    /// Re-reads the folder if anything in it changed. Returns whether a new set was
    /// loaded; on an error the previous set stays in force.
    pub fn reload(&self) -> Result<bool> {
        // Hold the lock across the read, so an older read never lands after a newer one.
        let mut last = self
            .fingerprint
            .lock()
            .map_err(|_| Error::internal("manifest fingerprint lock poisoned"))?;
        let (files, fingerprint) = read_files(&self.dir)?;
        if *last == fingerprint {
            return Ok(false);
        }
        // Remember this set whether it parses or not, so a broken edit is reported once.
        *last = fingerprint;
        let snapshot = parse_files(&files)?;
        self.snapshot.store(Arc::new(snapshot));
        Ok(true)
    }

    /// Checks the folder every `interval` until the returned task is aborted.
    pub fn spawn_reloader(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let source = Arc::clone(self);
        crate::poll::spawn_polling(interval, "manifests", move || source.reload())
    }
}

impl Source for FilesSource {
    fn object(&self, gvk: &Gvk, namespace: &str, name: &str) -> Result<Option<Arc<StoredObject>>> {
        let snapshot = self.snapshot.load();
        Ok(snapshot
            .kind(gvk)
            .and_then(|kind| lookup(&kind.objects, namespace, name)))
    }

    fn secret(&self, namespace: &str, name: &str) -> Result<Option<Arc<StoredSecret>>> {
        Ok(lookup(&self.snapshot.load().secrets, namespace, name))
    }

    fn is_ready(&self) -> bool {
        true
    }
}

fn is_manifest(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

/// Reads all manifest files, sorted by path, with a fingerprint of names and contents.
fn read_files(dir: &Path) -> Result<(Vec<(PathBuf, String)>, u64)> {
    let mut paths = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|error| {
            Error::invalid_config(format!("cannot read manifests folder {}: {error}", folder.display()))
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            // Kubernetes' mounted-volume internals (..data, ..2024_…) are reached through symlinks.
            if name.to_string_lossy().starts_with("..") {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if is_manifest(&path) {
                paths.push(path);
            }
        }
    }
    paths.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .map_err(|error| Error::invalid_config(format!("cannot read manifest {}: {error}", path.display())))?;
        path.hash(&mut hasher);
        text.hash(&mut hasher);
        files.push((path, text));
    }
    Ok((files, hasher.finish()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    spec: serde_json::Value,
    #[serde(default)]
    status: Option<serde_json::Value>,
    #[serde(default)]
    data: BTreeMap<String, String>,
    #[serde(default)]
    string_data: BTreeMap<String, String>,
    #[serde(default)]
    items: Vec<serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

fn parse_files(files: &[(PathBuf, String)]) -> Result<Snapshot> {
    let mut snapshot = Snapshot::default();
    for (path, text) in files {
        for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
            let at = || format!("{} (document {})", path.display(), index + 1);
            let value = serde_yaml::Value::deserialize(document).map_err(|error| {
                Error::invalid_config(format!(
                    "{}: not valid YAML: {}",
                    at(),
                    without_quoted_values(&error.to_string())
                ))
            })?;
            if value.is_null() {
                continue;
            }
            let json = serde_json::to_value(value).map_err(|error| {
                Error::invalid_config(format!("{}: {}", at(), without_quoted_values(&error.to_string())))
            })?;
            add_document(&mut snapshot, json, &at())?;
        }
    }
    Ok(snapshot)
}

fn add_document(snapshot: &mut Snapshot, json: serde_json::Value, at: &str) -> Result<()> {
    let content_hash = {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        json.to_string().hash(&mut hasher);
        format!("{:x}", hasher.finish())
    };
    let document: Document = serde_path_to_error::deserialize(json).map_err(|error| {
        Error::invalid_config(format!(
            "{at}: field {}: {}",
            error.path(),
            without_quoted_values(&error.inner().to_string())
        ))
    })?;
    let (Some(api_version), Some(kind)) = (document.api_version, document.kind) else {
        return Err(Error::invalid_config(format!("{at}: apiVersion and kind are required")));
    };
    if kind == "List" {
        for item in document.items {
            add_document(snapshot, item, at)?;
        }
        return Ok(());
    }
    let metadata = document.metadata;
    let name = metadata
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::invalid_config(format!("{at}: {kind} has no metadata.name")))?;
    let namespace = metadata
        .namespace
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into());
    let resource_version = metadata.resource_version.unwrap_or(content_hash);
    if api_version == "v1" && kind == "Secret" {
        let mut data = BTreeMap::new();
        for (key, encoded) in document.data {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| {
                    Error::invalid_config(format!(
                        "{at}: Secret {namespace}/{name}: data.{key} is not valid base64"
                    ))
                })?;
            data.insert(key, SecretValue::new(bytes));
        }
        for (key, text) in document.string_data {
            data.insert(key, SecretValue::from(text));
        }
        let names = snapshot.secrets.entry(namespace.clone()).or_default();
        if names.contains_key(&name) {
            return Err(Error::invalid_config(format!(
                "{at}: Secret {namespace}/{name} is defined twice"
            )));
        }
        names.insert(
            name.clone(),
            Arc::new(StoredSecret {
                name,
                namespace,
                resource_version,
                data,
            }),
        );
        return Ok(());
    }
    let names = snapshot
        .kind_mut(&api_version, &kind)
        .objects
        .entry(namespace.clone())
        .or_default();
    if names.contains_key(&name) {
        return Err(Error::invalid_config(format!(
            "{at}: {kind} {namespace}/{name} is defined twice"
        )));
    }
    let uid = metadata
        .uid
        .unwrap_or_else(|| format!("files:{api_version}:{kind}:{namespace}/{name}"));
    names.insert(
        name.clone(),
        Arc::new(StoredObject {
            api_version,
            kind,
            name,
            namespace,
            uid,
            resource_version,
            // Files have no generation the runtime can trust (an exported manifest
            // keeps its old one while its spec is edited): the content hash in
            // resource_version identifies each configuration instead.
            generation: None,
            annotations: metadata.annotations,
            spec: document.spec,
            status: document
                .status
                .and_then(|s| serde_json::from_value(s).ok())
                .unwrap_or_default(),
        }),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GVK: Gvk = Gvk {
        group: "provider.external-secrets.io",
        version: "v2alpha1",
        kind: "Fake",
    };

    fn write(dir: &Path, name: &str, text: &str) {
        if let Err(error) = std::fs::write(dir.join(name), text) {
            panic!("writing {name}: {error}");
        }
    }

    #[test]
    fn loads_objects_and_secrets_and_reloads_changes() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::internal(e.to_string()))?;
        write(
            dir.path(),
            "a.yaml",
            "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata: {name: one}\nspec: {data: []}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: team-a}\ndata: {token: aHVudGVyMg==}\nstringData: {user: bob}\n",
        );
        let source = FilesSource::load(dir.path())?;
        let object = source.object(&GVK, "default", "one")?;
        assert_eq!(object.map(|o| o.name.clone()), Some("one".to_string()));
        let secret = source
            .secret("team-a", "creds")?
            .ok_or_else(|| Error::internal("secret missing"))?;
        assert_eq!(
            secret.data.get("token").map(|v| v.expose().to_vec()),
            Some(b"hunter2".to_vec())
        );
        assert_eq!(
            secret.data.get("user").map(|v| v.expose().to_vec()),
            Some(b"bob".to_vec())
        );
        assert!(!source.reload()?);

        write(
            dir.path(),
            "b.yml",
            "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata: {name: two, namespace: x}\n",
        );
        assert!(source.reload()?);
        assert!(source.object(&GVK, "x", "two")?.is_some());
        Ok(())
    }

    #[test]
    fn a_broken_edit_keeps_the_last_good_set_and_names_the_file() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::internal(e.to_string()))?;
        write(
            dir.path(),
            "a.yaml",
            "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata: {name: one}\n",
        );
        let source = FilesSource::load(dir.path())?;
        write(
            dir.path(),
            "a.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: \"not base64 s3cr3t!\"}\n",
        );
        let error = source
            .reload()
            .err()
            .ok_or_else(|| Error::internal("broken file accepted"))?;
        assert!(error.message().contains("a.yaml"), "{error}");
        assert!(error.message().contains("data.password is not valid base64"), "{error}");
        assert!(!error.message().contains("s3cr3t"), "{error}");
        assert!(source.object(&GVK, "default", "one")?.is_some());
        // The same broken set is reported once, not on every poll.
        assert!(!source.reload()?);
        Ok(())
    }

    #[test]
    fn lookups_tell_kinds_versions_and_namespaces_apart() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::internal(e.to_string()))?;
        write(
            dir.path(),
            "a.yaml",
            "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata: {name: one, namespace: a}\n---\napiVersion: provider.external-secrets.io/v1\nkind: Fake\nmetadata: {name: one, namespace: b}\n---\napiVersion: provider.external-secrets.io/v2alpha1\nkind: Other\nmetadata: {name: one, namespace: b}\n",
        );
        let source = FilesSource::load(dir.path())?;
        assert!(source.object(&GVK, "a", "one")?.is_some());
        // Same name, another namespace only in another version or kind.
        assert!(source.object(&GVK, "b", "one")?.is_none());
        assert!(source.object(&GVK, "a", "two")?.is_none());
        let v1 = Gvk { version: "v1", ..GVK };
        assert_eq!(
            source.object(&v1, "b", "one")?.map(|o| o.api_version.clone()),
            Some("provider.external-secrets.io/v1".into())
        );
        let other_group = Gvk {
            group: "provider.external-secrets.i",
            ..GVK
        };
        assert!(source.object(&other_group, "a", "one")?.is_none());
        // A document twice is still refused.
        write(
            dir.path(),
            "b.yaml",
            "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata: {name: one, namespace: a}\n",
        );
        let error = source.reload().err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("Fake a/one is defined twice")));
        Ok(())
    }

    #[test]
    fn documents_need_kind_and_name() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::internal(e.to_string()))?;
        write(dir.path(), "a.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {}\n");
        let error = FilesSource::load(dir.path()).err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("Secret has no metadata.name")));
        Ok(())
    }
}
