//! Provider objects and Secrets read from a folder of YAML manifests, reloaded when
//! the files change. A broken edit keeps the last good set and logs what is wrong.
//!
//! Whoever can write the folder must not be able to hang or exhaust the provider:
//! only regular files are read, each at most [`FilesSource::MAX_FILE_BYTES`], the
//! folder at most [`FilesSource::MAX_TOTAL_BYTES`] and [`FilesSource::MAX_FILES`]
//! files; the walk follows symlinks (a mounted ConfigMap is made of them) but
//! visits each folder once, so symlink loops end, and goes at most
//! [`FilesSource::MAX_DEPTH`] folders deep. A check reads only the files whose
//! metadata (device, inode, size, modification and change time) changed, or that
//! were modified within two seconds of their last read (git's "racy clean" rule).

use super::{Source, StoredObject, StoredSecret};
use crate::error::without_quoted_values;
use crate::fs::{FileError, Stamp, human_bytes, shown};
use crate::{Error, Gvk, Result, SecretValue};
use arc_swap::ArcSwap;
use base64::Engine;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Entries by namespace, then name: looked up with borrowed `&str`s, so a call's
/// lookup allocates nothing. Hashed with foldhash (seeded per process): the keys
/// come from the operator's manifests, and every call looks one up.
type ByNamespace<T> = foldhash::HashMap<String, foldhash::HashMap<String, Arc<T>>>;

fn lookup<T>(map: &ByNamespace<T>, namespace: &str, name: &str) -> Option<Arc<T>> {
    map.get(namespace).and_then(|names| names.get(name)).cloned()
}

/// The objects of one `apiVersion` and kind.
struct KindObjects {
    api_version: String,
    kind: String,
    objects: ByNamespace<StoredObject>,
}

/// Everything the folder defines, as calls look it up.
#[derive(Default)]
pub(crate) struct Snapshot {
    /// One entry per `apiVersion` and kind (a folder holds a few).
    kinds: Vec<KindObjects>,
    secrets: ByNamespace<StoredSecret>,
}

impl Snapshot {
    fn kind(&self, gvk: &Gvk) -> Option<&KindObjects> {
        self.kinds.iter().find(|k| gvk.matches(&k.api_version, &k.kind))
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
                    objects: ByNamespace::default(),
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
    state: std::sync::Mutex<State>,
    files_read: AtomicU64,
}

/// What the last check saw: each file's version and parsed documents, and a
/// fingerprint of the whole outcome (so the same broken set is reported once).
#[derive(Default)]
struct State {
    files: HashMap<PathBuf, Cached>,
    fingerprint: u64,
}

/// One file as last read.
struct Cached {
    /// The version read (from the opened handle), or for a file that could not be
    /// read, what the walk saw; `None` when it could not even be stat'ed.
    stamp: Option<Stamp>,
    /// When the read began, for the racy-clean rule.
    read_at: SystemTime,
    /// Bytes read, towards the folder's limit.
    size: u64,
    /// A hash of the contents, or of the error when the file could not be read.
    hash: u64,
    parsed: Arc<Parsed>,
}

/// A file's documents, in order, and the first error in it (after which nothing
/// more of the file was parsed).
#[derive(Default)]
struct Parsed {
    entries: Vec<Entry>,
    error: Option<Error>,
}

enum Entry {
    Object { object: Arc<StoredObject>, at: String },
    Secret { secret: Arc<StoredSecret>, at: String },
}

/// What one look at the folder found: a fingerprint of the outcome and, in path
/// order, each file's documents.
struct Look {
    fingerprint: u64,
    files: Result<Vec<Arc<Parsed>>>,
}

impl FilesSource {
    /// The largest manifest file read: 16 MiB (a Fake object with 10,000 secrets of
    /// 1 KiB is ~10 MiB). A larger one is an error naming it.
    pub const MAX_FILE_BYTES: u64 = 16 << 20;
    /// The most bytes read from all manifest files of the folder together: 64 MiB.
    pub const MAX_TOTAL_BYTES: u64 = 64 << 20;
    /// The most manifest files in the folder and its subfolders: 10,000.
    pub const MAX_FILES: usize = 10_000;
    /// The most entries (files of any name, folders, symlinks) the walk looks at:
    /// 100,000, so that a symlink to `/` or a folder of junk cannot make each
    /// check walk without end.
    pub const MAX_ENTRIES: usize = 100_000;
    /// How many folders deep below the manifests folder the walk goes: 16.
    pub const MAX_DEPTH: usize = 16;

    /// Loads every manifest in `dir`; any invalid document is an error naming the
    /// file and the document. Never blocks on what is in the folder (FIFOs and
    /// devices are refused, sizes are bounded), so it may run at startup on the
    /// async runtime; it reads every file once.
    pub fn load(dir: impl Into<PathBuf>) -> Result<Self> {
        let source = FilesSource {
            dir: dir.into(),
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            state: std::sync::Mutex::new(State::default()),
            files_read: AtomicU64::new(0),
        };
        {
            let mut state = source.lock()?;
            let look = source.look(&mut state);
            state.fingerprint = look.fingerprint;
            source.snapshot.store(Arc::new(merge(&look.files?)?));
        }
        Ok(source)
    }

    /// Checks the folder and re-reads the files that changed. Returns whether a new
    /// set was loaded; on an error the previous set stays in force. Blocking file
    /// I/O: [`spawn_reloader`](Self::spawn_reloader) runs it off the async runtime.
    pub fn reload(&self) -> Result<bool> {
        // Hold the lock across the read, so an older read never lands after a newer one.
        let mut state = self.lock()?;
        let look = self.look(&mut state);
        if look.fingerprint == state.fingerprint {
            return Ok(false);
        }
        // Remember this set whether it parses or not, so a broken edit is reported once.
        state.fingerprint = look.fingerprint;
        let snapshot = merge(&look.files?)?;
        self.snapshot.store(Arc::new(snapshot));
        Ok(true)
    }

    /// How many times a manifest file has been read (or refused) since
    /// [`load`](Self::load): a check reads only the files whose metadata changed,
    /// or that were modified within two seconds of the last read.
    pub fn files_read(&self) -> u64 {
        self.files_read.load(Ordering::Relaxed)
    }

    /// Checks the folder every `interval` until the returned task is aborted.
    pub fn spawn_reloader(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let source = Arc::clone(self);
        crate::poll::spawn_polling(interval, "manifests", move || source.reload())
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| Error::internal("manifest state lock poisoned"))
    }

    /// Walks the folder and brings `state.files` up to date, reading only what changed.
    fn look(&self, state: &mut State) -> Look {
        let started = SystemTime::now();
        let candidates = match walk(&self.dir) {
            Ok(candidates) => candidates,
            Err(error) => return Look::failed(error),
        };
        let mut previous = std::mem::take(&mut state.files);
        let mut total = 0u64;
        let mut files = Vec::with_capacity(candidates.len());
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for (path, stamp) in candidates {
            let old = previous.remove(&path);
            let cached = match old {
                Some(old) if stamp.is_some() && old.stamp == stamp && !old.is_racy() => old,
                old => {
                    // Stop before reading what would go over the folder's limit (a file
                    // over the per-file limit is refused without being read).
                    let size = stamp.map_or(0, |s| s.size());
                    if size <= Self::MAX_FILE_BYTES && total.saturating_add(size) > Self::MAX_TOTAL_BYTES {
                        state.files.extend(previous);
                        return Look::failed(self.too_much(&path));
                    }
                    self.read(&path, stamp, started, old)
                }
            };
            total = total.saturating_add(cached.size);
            if total > Self::MAX_TOTAL_BYTES {
                state.files.extend(previous);
                return Look::failed(self.too_much(&path));
            }
            path.hash(&mut hasher);
            cached.hash.hash(&mut hasher);
            files.push(Arc::clone(&cached.parsed));
            if cached.stamp.is_some() {
                state.files.insert(path, cached);
            }
        }
        Look {
            fingerprint: hasher.finish(),
            files: Ok(files),
        }
    }

    fn too_much(&self, at: &Path) -> Error {
        Error::invalid_config(format!(
            "manifests folder {} holds more than the {} limit of manifests in all (reached at {})",
            shown(&self.dir),
            human_bytes(Self::MAX_TOTAL_BYTES),
            shown(at)
        ))
    }

    /// Reads and parses one file; `old` is its previous version, whose parsed
    /// documents are kept when the contents turn out the same.
    fn read(&self, path: &Path, stamp: Option<Stamp>, started: SystemTime, old: Option<Cached>) -> Cached {
        self.files_read.fetch_add(1, Ordering::Relaxed);
        match crate::fs::read_regular(path, "manifest", Self::MAX_FILE_BYTES) {
            Ok((bytes, read_stamp)) => {
                // What was read, not what fstat said: a file may grow (within the
                // limit) while it is read, and some (in /proc) report no size at all.
                let size = bytes.len() as u64;
                let hash = hash_of(&(0u8, &bytes));
                let parsed = match old {
                    Some(old) if old.hash == hash => old.parsed,
                    _ => Arc::new(parse_file(path, bytes)),
                };
                Cached {
                    stamp: Some(read_stamp),
                    read_at: started,
                    size,
                    hash,
                    parsed,
                }
            }
            Err(error) => unreadable(error, stamp, started),
        }
    }
}

fn unreadable(error: FileError, stamp: Option<Stamp>, started: SystemTime) -> Cached {
    let error = Error::invalid_config(error.to_string());
    Cached {
        stamp,
        read_at: started,
        size: 0,
        hash: hash_of(&(1u8, error.message())),
        parsed: Arc::new(Parsed {
            entries: Vec::new(),
            error: Some(error),
        }),
    }
}

impl Cached {
    fn is_racy(&self) -> bool {
        self.stamp.is_none_or(|stamp| stamp.is_racy(self.read_at))
    }
}

impl Look {
    fn failed(error: Error) -> Self {
        Look {
            fingerprint: hash_of(&(2u8, error.message())),
            files: Err(error),
        }
    }
}

fn hash_of(value: &impl Hash) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
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

/// The manifest files under `dir`, sorted by path, each with what `stat` says of
/// it (`None` when that fails, e.g. a dangling symlink). Symlinks are followed,
/// but each folder (by device and inode) is visited once, so loops end.
fn walk(dir: &Path) -> Result<Vec<(PathBuf, Option<Stamp>)>> {
    let cannot_read = |folder: &Path, error: std::io::Error| {
        Error::invalid_config(format!("cannot read manifests folder {}: {error}", shown(folder)))
    };
    let root = std::fs::metadata(dir).map_err(|error| cannot_read(dir, error))?;
    if !root.is_dir() {
        return Err(Error::invalid_config(format!(
            "manifests folder {} is not a folder",
            shown(dir)
        )));
    }
    let mut visited = HashSet::from([(root.dev(), root.ino())]);
    let mut pending = vec![(dir.to_path_buf(), 0usize)];
    let mut files = Vec::new();
    let mut seen = 0usize;
    while let Some((folder, depth)) = pending.pop() {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&folder).map_err(|error| cannot_read(&folder, error))? {
            seen += 1;
            if seen > FilesSource::MAX_ENTRIES {
                return Err(Error::invalid_config(format!(
                    "manifests folder {} holds more than {} entries (files and folders); is a symlink pointing at a large tree?",
                    shown(dir),
                    FilesSource::MAX_ENTRIES
                )));
            }
            let Ok(entry) = entry else { continue };
            // Kubernetes' mounted-volume internals (..data, ..2024_…) are reached through symlinks.
            if entry.file_name().as_bytes().starts_with(b"..") {
                continue;
            }
            entries.push(entry.path());
        }
        entries.sort();
        let mut subfolders = Vec::new();
        for path in entries {
            match std::fs::metadata(&path) {
                Ok(metadata) if metadata.is_dir() => {
                    if !visited.insert((metadata.dev(), metadata.ino())) {
                        // Seen already: a symlink loop, or a second way into one folder.
                        continue;
                    }
                    if depth + 1 > FilesSource::MAX_DEPTH {
                        return Err(Error::invalid_config(format!(
                            "manifests folder {} is nested deeper than {} folders at {}",
                            shown(dir),
                            FilesSource::MAX_DEPTH,
                            shown(&path)
                        )));
                    }
                    subfolders.push(path);
                }
                Ok(metadata) if is_manifest(&path) => files.push((path, Some(Stamp::of(&metadata)))),
                Err(_) if is_manifest(&path) => files.push((path, None)),
                _ => {}
            }
            if files.len() > FilesSource::MAX_FILES {
                return Err(Error::invalid_config(format!(
                    "manifests folder {} holds more than {} manifest files",
                    shown(dir),
                    FilesSource::MAX_FILES
                )));
            }
        }
        // Depth first, in name order.
        pending.extend(subfolders.into_iter().rev().map(|path| (path, depth + 1)));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
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

/// Parses one file's documents, stopping at the first error.
fn parse_file(path: &Path, bytes: Vec<u8>) -> Parsed {
    let mut parsed = Parsed::default();
    let Ok(text) = String::from_utf8(bytes) else {
        parsed.error = Some(Error::invalid_config(format!(
            "manifest {} is not UTF-8 text",
            shown(path)
        )));
        return parsed;
    };
    if let Err(error) = parse_documents(path, &text, &mut parsed.entries) {
        parsed.error = Some(error);
    }
    parsed
}

fn parse_documents(path: &Path, text: &str, entries: &mut Vec<Entry>) -> Result<()> {
    let shown_path = shown(path);
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let at = || format!("{shown_path} (document {})", index + 1);
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
        add_document(entries, json, &at())?;
    }
    Ok(())
}

/// The files' documents as one set, in path order; the same object or Secret
/// twice is an error at its second definition.
fn merge(files: &[Arc<Parsed>]) -> Result<Snapshot> {
    let mut snapshot = Snapshot::default();
    for file in files {
        for entry in &file.entries {
            match entry {
                Entry::Object { object, at } => {
                    let names = snapshot
                        .kind_mut(&object.api_version, &object.kind)
                        .objects
                        .entry(object.namespace.clone())
                        .or_default();
                    if names.insert(object.name.clone(), Arc::clone(object)).is_some() {
                        return Err(Error::invalid_config(format!(
                            "{at}: {} {}/{} is defined twice",
                            object.kind, object.namespace, object.name
                        )));
                    }
                }
                Entry::Secret { secret, at } => {
                    let names = snapshot.secrets.entry(secret.namespace.clone()).or_default();
                    if names.insert(secret.name.clone(), Arc::clone(secret)).is_some() {
                        return Err(Error::invalid_config(format!(
                            "{at}: Secret {}/{} is defined twice",
                            secret.namespace, secret.name
                        )));
                    }
                }
            }
        }
        if let Some(error) = &file.error {
            return Err(error.clone());
        }
    }
    Ok(snapshot)
}

fn add_document(entries: &mut Vec<Entry>, json: serde_json::Value, at: &str) -> Result<()> {
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
            add_document(entries, item, at)?;
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
        entries.push(Entry::Secret {
            secret: Arc::new(StoredSecret {
                name,
                namespace,
                resource_version,
                data,
            }),
            at: at.to_string(),
        });
        return Ok(());
    }
    let uid = metadata
        .uid
        .unwrap_or_else(|| format!("files:{api_version}:{kind}:{namespace}/{name}"));
    entries.push(Entry::Object {
        object: Arc::new(StoredObject {
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
        at: at.to_string(),
    });
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
            "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata: {name: one, namespace: a}\n---\napiVersion: provider.external-secrets.io/v1\nkind: Fake\nmetadata: {name: one, namespace: b}\n---\napiVersion: provider.external-secrets.io/v2alpha1\nkind: Other\nmetadata: {name: one, namespace: b}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: one, namespace: a}\n",
        );
        let source = FilesSource::load(dir.path())?;
        assert!(source.object(&GVK, "a", "one")?.is_some());
        // The same name in another namespace exists only in another version or kind.
        assert!(source.object(&GVK, "b", "one")?.is_none());
        assert!(source.object(&GVK, "a", "two")?.is_none());
        let v1 = Gvk { version: "v1", ..GVK };
        assert_eq!(
            source.object(&v1, "b", "one")?.map(|o| o.api_version.clone()),
            Some("provider.external-secrets.io/v1".into())
        );
        let shorter_group = Gvk {
            group: "provider.external-secrets.i",
            ..GVK
        };
        assert!(source.object(&shorter_group, "a", "one")?.is_none());
        assert!(source.secret("a", "one")?.is_some());
        assert!(source.secret("b", "one")?.is_none());
        // The same document twice is still refused, in any file.
        write(
            dir.path(),
            "b.yaml",
            "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata: {name: one, namespace: a}\n",
        );
        let error = source.reload().err().map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("Fake a/one is defined twice")),
            "{error:?}"
        );
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

/// Parses manifest texts as if they were the folder's files, in order: the fuzz
/// harness's way in to the same parser and merge the folder goes through.
#[cfg(fuzzing)]
pub(crate) fn parse_files(files: &[(PathBuf, String)]) -> Result<Snapshot> {
    let parsed: Vec<Arc<Parsed>> = files
        .iter()
        .map(|(path, text)| Arc::new(parse_file(path, text.clone().into_bytes())))
        .collect();
    if let Some(error) = parsed.iter().find_map(|p| p.error.clone()) {
        return Err(error);
    }
    merge(&parsed)
}
