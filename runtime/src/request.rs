//! What a provider method receives: requests in our own types, checked and with
//! empty wire strings turned into `None`.

use crate::display::bounded;
use crate::{Error, Result, SecretMap, SecretValue};
use eso_proto::provider::v1 as wire;
use std::collections::BTreeMap;
use std::time::Instant;

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() { None } else { Some(s) }
}

/// Which remote secret to read (GetSecret, GetSecretMap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    /// The secret's key (path) in the backend; never empty.
    pub key: String,
    /// A specific version, when asked for.
    pub version: Option<String>,
    /// A property inside the secret (e.g. a JSON key), when asked for.
    pub property: Option<String>,
    /// ESO's metadata policy (`None` or `Fetch`), when set.
    pub metadata_policy: Option<String>,
}

impl RemoteRef {
    pub(crate) fn from_wire(remote: Option<wire::ExternalSecretDataRemoteRef>) -> Result<Self> {
        let remote = remote.ok_or_else(|| Error::invalid_request("remote_ref is missing"))?;
        if remote.key.is_empty() {
            return Err(Error::invalid_request("remote_ref.key is empty"));
        }
        Ok(RemoteRef {
            key: remote.key,
            version: non_empty(remote.version),
            property: non_empty(remote.property),
            metadata_policy: non_empty(remote.metadata_policy),
        })
    }

    /// A reference to `key` with no version or property.
    pub fn key(key: impl Into<String>) -> Self {
        RemoteRef {
            key: key.into(),
            version: None,
            property: None,
            metadata_policy: None,
        }
    }
}

/// The longest `find.name.regexp` accepted, in bytes.
pub const MAX_REGEXP_BYTES: usize = 4096;

/// The most memory a compiled `find.name.regexp` may take (the regex crate's
/// `size_limit`); a larger program is refused as `INVALID_ARGUMENT`. Big enough
/// for a Unicode class repeated 64 times (`[\w-]{1,64}` takes 3.2 MB), small
/// enough to refuse nested counted repetitions that compile to tens of MB.
pub const REGEXP_SIZE_LIMIT: usize = 4 << 20;

/// The lazy DFA's cache per compiled `find.name.regexp` (the regex crate's
/// `dfa_size_limit`).
pub const REGEXP_DFA_SIZE_LIMIT: usize = 2 << 20;

/// Which secrets GetAllSecrets asks for. The runtime has compiled the name
/// expression already (with size limits, off the async workers), so an invalid
/// or oversized one never reaches the provider.
///
/// Filter many keys with [`select`](Self::select): it matches on the runtime's
/// bounded blocking pool and stops at the caller's deadline. [`matches`](Self::matches)
/// is for a single key.
#[derive(Debug, Clone)]
pub struct FindQuery {
    /// Only secrets whose key starts with this path.
    pub path: Option<String>,
    /// Only secrets whose name matches this regular expression.
    pub name: Option<regex::Regex>,
    /// Only secrets carrying all of these tags.
    pub tags: BTreeMap<String, String>,
    /// The caller's deadline, when it sent one.
    deadline: Option<Instant>,
}

/// Compiles a `find.name.regexp` within [`MAX_REGEXP_BYTES`], [`REGEXP_SIZE_LIMIT`]
/// and [`REGEXP_DFA_SIZE_LIMIT`].
pub(crate) fn compile_find_regexp(expression: &str) -> Result<regex::Regex> {
    if expression.len() > MAX_REGEXP_BYTES {
        return Err(Error::invalid_request(format!(
            "find.name.regexp is {} bytes long; at most {MAX_REGEXP_BYTES} are accepted",
            expression.len()
        )));
    }
    regex::RegexBuilder::new(expression)
        .size_limit(REGEXP_SIZE_LIMIT)
        .dfa_size_limit(REGEXP_DFA_SIZE_LIMIT)
        .build()
        .map_err(|error| match error {
            regex::Error::CompiledTooBig(limit) => Error::invalid_request(format!(
                "find.name.regexp compiles to more than the limit of {limit} bytes; simplify it (fewer or smaller counted repetitions such as {{1,200}})"
            )),
            other => Error::invalid_request(format!(
                "find.name.regexp is not a valid regular expression: {}",
                bounded(&other.to_string()).at_most(1024)
            )),
        })
}

impl FindQuery {
    /// A query from its parts; `name` is compiled as `find.name.regexp` is.
    pub fn new(path: Option<String>, name: Option<&str>, tags: BTreeMap<String, String>) -> Result<Self> {
        let name = name.filter(|n| !n.is_empty()).map(compile_find_regexp).transpose()?;
        Ok(FindQuery {
            path: path.filter(|p| !p.is_empty()),
            name,
            tags,
            deadline: None,
        })
    }

    /// Checks and compiles the wire query off the async workers.
    pub(crate) async fn from_wire(find: Option<wire::ExternalSecretFind>, deadline: Option<Instant>) -> Result<Self> {
        let find = find.ok_or_else(|| Error::invalid_request("find is missing"))?;
        let expression = find.name.map(|n| n.regexp).filter(|r| !r.is_empty());
        let name = match expression {
            Some(expression) => Some(
                crate::blocking::run("compiling find.name.regexp", deadline, move |_| {
                    compile_find_regexp(&expression)
                })
                .await?,
            ),
            None => None,
        };
        let query = FindQuery {
            path: non_empty(find.path),
            name,
            tags: find.tags.into_iter().collect(),
            deadline,
        };
        if query.path.is_none() && query.name.is_none() && query.tags.is_empty() {
            return Err(Error::invalid_request(
                "find needs at least one of path, name.regexp or tags",
            ));
        }
        Ok(query)
    }

    /// The same query without its tags: for backends that list keys first and read
    /// tags only for the keys whose path and name match.
    pub fn without_tags(&self) -> Self {
        FindQuery {
            tags: BTreeMap::new(),
            ..self.clone()
        }
    }

    /// The caller's deadline, when it sent one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether a secret with this key and these tags is asked for. For one key;
    /// filter many with [`select`](Self::select).
    pub fn matches(&self, key: &str, tags: &BTreeMap<String, String>) -> bool {
        self.path.as_deref().is_none_or(|p| key.starts_with(p))
            && self.name.as_ref().is_none_or(|r| r.is_match(key))
            && self.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
    }

    /// Keeps the `candidates` for which `keep(query, candidate)` holds, matching on
    /// the runtime's bounded blocking pool, never on the async workers. It stops
    /// with `DEADLINE_EXCEEDED` once the caller's deadline passes (30 s when it sent
    /// none) and as soon as the call is cancelled.
    ///
    /// ```
    /// # async fn example(find: &eso_runtime::FindQuery) -> eso_runtime::Result<()> {
    /// use std::collections::BTreeMap;
    /// let listed = vec![("app/db".to_string(), BTreeMap::new()), ("app/cache".to_string(), BTreeMap::new())];
    /// let wanted = find.select(listed, |find, (key, tags)| find.matches(key, tags)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn select<T, F>(&self, candidates: Vec<T>, keep: F) -> Result<Vec<T>>
    where
        T: Send + 'static,
        F: Fn(&FindQuery, &T) -> bool + Send + 'static,
    {
        let query = self.clone();
        crate::blocking::run("matching find", self.deadline, move |checkpoint| {
            let mut kept = Vec::new();
            // One look at the clock and the cancel flag per key: ~25 ns, next to a
            // match that a hostile expression can make take 100 ms on a long key.
            for candidate in candidates {
                checkpoint.check()?;
                if keep(&query, &candidate) {
                    kept.push(candidate);
                }
            }
            Ok(kept)
        })
        .await
    }
}

/// Which remote secret (and property) PushSecret, DeleteSecret and SecretExists
/// are about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRemoteRef {
    /// The secret's key in the backend; never empty.
    pub remote_key: String,
    /// A property inside the secret, when the call is about one property.
    pub property: Option<String>,
}

impl PushRemoteRef {
    pub(crate) fn from_wire(remote: Option<wire::PushSecretRemoteRef>) -> Result<Self> {
        let remote = remote.ok_or_else(|| Error::invalid_request("remote_ref is missing"))?;
        if remote.remote_key.is_empty() {
            return Err(Error::invalid_request("remote_ref.remote_key is empty"));
        }
        Ok(PushRemoteRef {
            remote_key: remote.remote_key,
            property: non_empty(remote.property),
        })
    }
}

/// A PushSecret call: which data to write where.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// The Kubernetes Secret's data being pushed.
    pub secret_data: SecretMap,
    /// Where to write, and which property.
    pub remote: PushRemoteRef,
    /// The key of `secret_data` to push; `None` pushes the whole Secret.
    pub secret_key: Option<String>,
    /// Provider-specific metadata (`PushSecretData.metadata`), parsed as JSON.
    pub metadata: Option<serde_json::Value>,
    /// The Kubernetes Secret's type, e.g. `Opaque`.
    pub secret_type: Option<String>,
    /// The Kubernetes Secret's labels.
    pub labels: BTreeMap<String, String>,
    /// The Kubernetes Secret's annotations.
    pub annotations: BTreeMap<String, String>,
}

impl PushRequest {
    pub(crate) fn from_wire(request: wire::PushSecretRequest) -> Result<Self> {
        let data = request
            .push_secret_data
            .ok_or_else(|| Error::invalid_request("push_secret_data is missing"))?;
        let metadata = if data.metadata.is_empty() {
            None
        } else {
            Some(serde_json::from_slice(&data.metadata).map_err(|error| {
                Error::invalid_request(format!(
                    "push_secret_data.metadata is not JSON: {}",
                    crate::error::without_quoted_values(&error.to_string())
                ))
            })?)
        };
        let secret_key = non_empty(data.secret_key);
        let secret_data = crate::secret::map_from_wire(request.secret_data);
        if let Some(key) = &secret_key
            && !secret_data.contains_key(key)
        {
            return Err(Error::invalid_request(format!(
                "push_secret_data.secret_key {} is not in secret_data",
                bounded(key)
            )));
        }
        Ok(PushRequest {
            secret_data,
            remote: PushRemoteRef::from_wire(Some(wire::PushSecretRemoteRef {
                remote_key: data.remote_key,
                property: data.property,
            }))?,
            secret_key,
            metadata,
            secret_type: non_empty(request.secret_type),
            labels: request.secret_labels.into_iter().collect(),
            annotations: request.secret_annotations.into_iter().collect(),
        })
    }

    /// The value to write: the data under `secret_key`, or, when the whole Secret
    /// is pushed, its data as a JSON object of strings (non-UTF-8 values are refused).
    pub fn value(&self) -> Result<SecretValue> {
        match &self.secret_key {
            Some(key) => self
                .secret_data
                .get(key)
                .cloned()
                .ok_or_else(|| Error::invalid_request(format!("secret_key {} is not in secret_data", bounded(key)))),
            None => {
                let mut object = serde_json::Map::new();
                for (key, value) in &self.secret_data {
                    let text = value.expose_str().ok_or_else(|| {
                        Error::invalid_request(format!(
                            "secret_data[{}] is not UTF-8 and cannot be pushed as part of a whole Secret",
                            bounded(key)
                        ))
                    })?;
                    object.insert(key.clone(), serde_json::Value::String(text.to_string()));
                }
                let bytes = serde_json::to_vec(&object)
                    .map_err(|error| Error::internal(format!("encoding secret data: {error}")))?;
                Ok(SecretValue::new(bytes))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_key_is_refused() {
        let error = RemoteRef::from_wire(Some(wire::ExternalSecretDataRemoteRef::default()));
        assert_eq!(
            error.map_err(|e| e.message().to_string()),
            Err("remote_ref.key is empty".into())
        );
    }

    #[tokio::test]
    async fn find_matches_path_name_and_tags() {
        let query = FindQuery::from_wire(
            Some(wire::ExternalSecretFind {
                path: "app/".into(),
                name: Some(wire::FindName { regexp: "db-.*".into() }),
                tags: [("env".to_string(), "prod".to_string())].into(),
                ..Default::default()
            }),
            None,
        )
        .await;
        let Ok(query) = query else {
            panic!("valid query refused")
        };
        let prod: BTreeMap<_, _> = [("env".to_string(), "prod".to_string())].into();
        assert!(query.matches("app/db-main", &prod));
        assert!(!query.matches("other/db-main", &prod));
        assert!(!query.matches("app/cache", &prod));
        assert!(!query.matches("app/db-main", &BTreeMap::new()));
    }

    #[tokio::test]
    async fn bad_regexp_is_invalid_request() {
        let query = FindQuery::from_wire(
            Some(wire::ExternalSecretFind {
                name: Some(wire::FindName { regexp: "(".into() }),
                ..Default::default()
            }),
            None,
        )
        .await;
        assert!(matches!(query, Err(e) if e.kind() == crate::ErrorKind::InvalidRequest));
    }

    #[test]
    fn oversized_regexps_are_refused_naming_the_limit() {
        // Nested counted repetitions of a Unicode class: about 10 MB compiled.
        let error = compile_find_regexp(r"(?:[\w\W]{1,200}){1,50}#").err();
        let message = error.as_ref().map(|e| (e.kind(), e.message().to_string()));
        assert!(
            matches!(&message, Some((crate::ErrorKind::InvalidRequest, m)) if m.contains(&REGEXP_SIZE_LIMIT.to_string())),
            "{message:?}"
        );
        let long = "a".repeat(MAX_REGEXP_BYTES + 1);
        let error = compile_find_regexp(&long).err().map(|e| e.message().to_string());
        assert!(error.is_some_and(|m| m.contains("4097 bytes long") && m.len() < 200));
        // Ordinary expressions, and a Unicode class repeated 64 times, still compile.
        for fine in ["db-.*", "^app/.*-prod$", "(?i)secret|password|token", r"[\w-]{1,64}"] {
            assert!(compile_find_regexp(fine).is_ok(), "{fine}");
        }
    }

    #[tokio::test]
    async fn select_keeps_what_matches_in_order() -> Result<()> {
        let query = FindQuery::new(Some("app/".into()), Some("db-[0-9]+$"), BTreeMap::new())?;
        let keys: Vec<String> = (0..1000)
            .map(|i| format!("app/db-{i}"))
            .chain(["app/cache".into()])
            .collect();
        let kept = query.select(keys, |q, key| q.matches(key, &BTreeMap::new())).await?;
        assert_eq!(kept.len(), 1000);
        assert_eq!(kept.first().map(String::as_str), Some("app/db-0"));
        assert_eq!(kept.last().map(String::as_str), Some("app/db-999"));
        Ok(())
    }

    #[tokio::test]
    async fn select_stops_at_the_deadline() -> Result<()> {
        // Slow on purpose: the lazy DFA gives up and the PikeVM walks ~3,200 states a byte.
        let mut query = FindQuery::new(None, Some("(?:a{1,40}){1,40}#"), BTreeMap::new())?;
        query.deadline = Some(Instant::now() + std::time::Duration::from_millis(300));
        let keys: Vec<String> = (0..200).map(|i| format!("{}{i}", "a".repeat(5000))).collect();
        let started = Instant::now();
        let result = query.select(keys, |q, key| q.matches(key, &BTreeMap::new())).await;
        assert!(
            matches!(&result, Err(e) if e.kind() == crate::ErrorKind::DeadlineExceeded),
            "{:?}",
            result.map(|k| k.len())
        );
        // Stopped within a key or so of the deadline, not after the ~25 s the whole set takes.
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        Ok(())
    }
}
