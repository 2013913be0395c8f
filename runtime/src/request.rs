//! What a provider method receives: requests in our own types, checked and with
//! empty wire strings turned into `None`.

use crate::{Error, Result, SecretMap, SecretValue};
use eso_proto::provider::v1 as wire;
use std::collections::BTreeMap;

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

/// Which secrets GetAllSecrets asks for. The runtime has compiled the name
/// expression already, so an invalid one never reaches the provider.
#[derive(Debug, Clone)]
pub struct FindQuery {
    /// Only secrets whose key starts with this path.
    pub path: Option<String>,
    /// Only secrets whose name matches this regular expression.
    pub name: Option<regex::Regex>,
    /// Only secrets carrying all of these tags.
    pub tags: BTreeMap<String, String>,
}

impl FindQuery {
    pub(crate) fn from_wire(find: Option<wire::ExternalSecretFind>) -> Result<Self> {
        let find = find.ok_or_else(|| Error::invalid_request("find is missing"))?;
        let name = match find.name.map(|n| n.regexp).filter(|r| !r.is_empty()) {
            Some(expression) => Some(regex::Regex::new(&expression).map_err(|error| {
                Error::invalid_request(format!("find.name.regexp is not a valid regular expression: {error}"))
            })?),
            None => None,
        };
        let query = FindQuery {
            path: non_empty(find.path),
            name,
            tags: find.tags.into_iter().collect(),
        };
        if query.path.is_none() && query.name.is_none() && query.tags.is_empty() {
            return Err(Error::invalid_request(
                "find needs at least one of path, name.regexp or tags",
            ));
        }
        Ok(query)
    }

    /// Whether a secret with this key and these tags is asked for.
    pub fn matches(&self, key: &str, tags: &BTreeMap<String, String>) -> bool {
        self.path.as_deref().is_none_or(|p| key.starts_with(p))
            && self.name.as_ref().is_none_or(|r| r.is_match(key))
            && self.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
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
                "push_secret_data.secret_key {key} is not in secret_data"
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
                .ok_or_else(|| Error::invalid_request(format!("secret_key {key} is not in secret_data"))),
            None => {
                let mut object = serde_json::Map::new();
                for (key, value) in &self.secret_data {
                    let text = value.expose_str().ok_or_else(|| {
                        Error::invalid_request(format!(
                            "secret_data[{key}] is not UTF-8 and cannot be pushed as part of a whole Secret"
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

    #[test]
    fn find_matches_path_name_and_tags() {
        let query = FindQuery::from_wire(Some(wire::ExternalSecretFind {
            path: "app/".into(),
            name: Some(wire::FindName { regexp: "db-.*".into() }),
            tags: [("env".to_string(), "prod".to_string())].into(),
            ..Default::default()
        }));
        let Ok(query) = query else {
            panic!("valid query refused")
        };
        let prod: BTreeMap<_, _> = [("env".to_string(), "prod".to_string())].into();
        assert!(query.matches("app/db-main", &prod));
        assert!(!query.matches("other/db-main", &prod));
        assert!(!query.matches("app/cache", &prod));
        assert!(!query.matches("app/db-main", &BTreeMap::new()));
    }

    #[test]
    fn bad_regexp_is_invalid_request() {
        let query = FindQuery::from_wire(Some(wire::ExternalSecretFind {
            name: Some(wire::FindName { regexp: "(".into() }),
            ..Default::default()
        }));
        assert!(matches!(query, Err(e) if e.kind() == crate::ErrorKind::InvalidRequest));
    }
}
