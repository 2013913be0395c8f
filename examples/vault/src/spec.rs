//! The spec structs of the `Vault` and `VaultToken` kinds, and what they share: the
//! server, the Vault namespace, authentication and TLS.

use crate::key::check_spec_path;
use eso_runtime::{Error, Result, SecretKeySelector};

/// The KV v2 mount path used when `spec.mount` is not given.
pub const DEFAULT_MOUNT: &str = "secret";
/// The AppRole auth mount path used when `spec.auth.appRole.path` is not given.
pub const DEFAULT_APPROLE_PATH: &str = "approle";

fn default_mount() -> String {
    DEFAULT_MOUNT.to_string()
}

fn default_approle_path() -> String {
    DEFAULT_APPROLE_PATH.to_string()
}

fn default_orphan() -> bool {
    true
}

/// Reads and writes secrets in a HashiCorp Vault or OpenBao KV v2 mount.
#[eso_runtime::provider_spec(kind = "Vault", shortname = "vault")]
pub struct VaultSpec {
    /// The Vault (or OpenBao) address, e.g. https://vault.example:8200.
    pub server: String,
    /// The path of the KV v2 secrets engine mount.
    #[serde(default = "default_mount")]
    pub mount: String,
    /// The Vault namespace (Vault Enterprise / OpenBao namespaces), sent as the
    /// X-Vault-Namespace header. Not a Kubernetes namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// How to log in to Vault: exactly one of tokenSecretRef or appRole.
    pub auth: VaultAuth,
    /// The CA bundle (PEM) that signs the Vault server's certificate, from a Kubernetes
    /// Secret. Without it, the system's trust roots are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<SecretKeySelector>,
}

/// How to log in to Vault: exactly one of `tokenSecretRef` or `appRole`.
#[eso_runtime::spec_type]
#[derive(Default, PartialEq, Eq)]
pub struct VaultAuth {
    /// A Vault token, from a Kubernetes Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretKeySelector>,
    /// AppRole login: a role id and a secret id, each from a Kubernetes Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_role: Option<AppRole>,
}

/// AppRole login (auth/<path>/login).
#[eso_runtime::spec_type]
#[derive(PartialEq, Eq)]
pub struct AppRole {
    /// The path the AppRole auth method is mounted at.
    #[serde(default = "default_approle_path")]
    pub path: String,
    /// The role id, from a Kubernetes Secret.
    pub role_id_ref: SecretKeySelector,
    /// The secret id, from a Kubernetes Secret.
    pub secret_id_ref: SecretKeySelector,
}

/// Creates Vault tokens (auth/token/create-orphan, or auth/token/create) and revokes them
/// on Cleanup.
#[eso_runtime::generator_spec(kind = "VaultToken")]
pub struct VaultTokenSpec {
    /// The Vault (or OpenBao) address, e.g. https://vault.example:8200.
    pub server: String,
    /// The Vault namespace, sent as the X-Vault-Namespace header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// How to log in to Vault; the logged-in token creates the tokens.
    pub auth: VaultAuth,
    /// The CA bundle (PEM) that signs the Vault server's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<SecretKeySelector>,
    /// The policies of the generated token.
    #[serde(default)]
    pub policies: Vec<String>,
    /// The generated token's time to live, as Vault reads it (e.g. 1h, 30m); the
    /// token role's or mount's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// The generated token's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether the generated token can be renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewable: Option<bool>,
    /// Whether the generated token is an orphan (auth/token/create-orphan, the default):
    /// it lives its own TTL whatever happens to the token that created it. With false it
    /// is a child of the logged-in token (auth/token/create) and is revoked with it.
    #[serde(default = "default_orphan")]
    pub orphan: bool,
}

/// What both kinds need to reach and log in to Vault.
#[derive(Debug, Clone)]
pub struct Connection<'a> {
    /// The server address.
    pub server: &'a str,
    /// The Vault namespace.
    pub namespace: Option<&'a str>,
    /// How to log in.
    pub auth: &'a VaultAuth,
    /// The CA bundle.
    pub ca_bundle: Option<&'a SecretKeySelector>,
}

impl VaultSpec {
    /// The connection settings.
    pub fn connection(&self) -> Connection<'_> {
        Connection {
            server: &self.server,
            namespace: self.namespace.as_deref(),
            auth: &self.auth,
            ca_bundle: self.ca_bundle.as_ref(),
        }
    }

    /// Checks the spec without reaching Vault.
    pub fn check(&self) -> Result<()> {
        self.connection().check()?;
        check_spec_path("spec.mount", self.mount.trim_matches('/'))
    }
}

impl VaultTokenSpec {
    /// The connection settings.
    pub fn connection(&self) -> Connection<'_> {
        Connection {
            server: &self.server,
            namespace: self.namespace.as_deref(),
            auth: &self.auth,
            ca_bundle: self.ca_bundle.as_ref(),
        }
    }

    /// Checks the spec without reaching Vault.
    pub fn check(&self) -> Result<()> {
        self.connection().check()?;
        if let Some(ttl) = &self.ttl
            && ttl.trim().is_empty()
        {
            return Err(Error::invalid_config("spec.ttl is empty"));
        }
        if self.policies.iter().any(|p| p.trim().is_empty()) {
            return Err(Error::invalid_config("spec.policies has an empty entry"));
        }
        Ok(())
    }
}

impl Connection<'_> {
    /// Checks the server address and that exactly one auth method is given.
    pub fn check(&self) -> Result<()> {
        let url = reqwest::Url::parse(self.server)
            .map_err(|error| Error::invalid_config(format!("spec.server is not a URL: {error}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid_config(format!(
                "spec.server must be an http:// or https:// URL, not {}://",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(Error::invalid_config("spec.server has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(Error::invalid_config(
                "spec.server must be a plain address: no credentials, query or fragment",
            ));
        }
        match (&self.auth.token_secret_ref, &self.auth.app_role) {
            (Some(_), None) => {}
            (None, Some(app_role)) => {
                check_spec_path("spec.auth.appRole.path", app_role.path.trim_matches('/'))?;
            }
            (Some(_), Some(_)) => {
                return Err(Error::invalid_config(
                    "spec.auth sets both tokenSecretRef and appRole; choose one",
                ));
            }
            (None, None) => {
                return Err(Error::invalid_config("spec.auth needs tokenSecretRef or appRole"));
            }
        }
        // Sent as a header, not in the URL, but Vault joins it into the request's path.
        if let Some(namespace) = self.namespace {
            check_spec_path("spec.namespace", namespace.trim_matches('/'))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_auth() -> VaultAuth {
        VaultAuth {
            token_secret_ref: Some(SecretKeySelector {
                name: "t".into(),
                key: "token".into(),
                namespace: None,
            }),
            app_role: None,
        }
    }

    fn connection<'a>(server: &'a str, auth: &'a VaultAuth) -> Connection<'a> {
        Connection {
            server,
            namespace: None,
            auth,
            ca_bundle: None,
        }
    }

    #[test]
    fn servers_must_be_plain_http_or_https_addresses() {
        let auth = token_auth();
        assert!(connection("https://vault.example:8200", &auth).check().is_ok());
        assert!(connection("http://127.0.0.1:8200/", &auth).check().is_ok());
        for bad in [
            "vault.example",
            "ftp://vault.example",
            "https://user:pw@vault.example",
            "https://vault.example?x=1",
        ] {
            let error = connection(bad, &auth).check().err().map(|e| e.kind());
            assert_eq!(error, Some(eso_runtime::ErrorKind::InvalidConfig), "{bad}");
        }
    }

    #[test]
    fn exactly_one_auth_method() {
        let none = VaultAuth::default();
        let error = connection("https://v", &none).check().err().map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some("spec.auth needs tokenSecretRef or appRole"));
        let mut both = token_auth();
        both.app_role = Some(AppRole {
            path: DEFAULT_APPROLE_PATH.into(),
            role_id_ref: SecretKeySelector::default(),
            secret_id_ref: SecretKeySelector::default(),
        });
        let error = connection("https://v", &both).check().err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("spec.auth sets both tokenSecretRef and appRole; choose one")
        );
    }

    #[test]
    fn spec_paths_follow_the_key_rules() {
        let auth = token_auth();
        let spec = |mount: &str| VaultSpec {
            server: "https://v".into(),
            mount: mount.into(),
            namespace: None,
            auth: auth.clone(),
            ca_bundle: None,
        };
        assert_eq!(spec("secret").check(), Ok(()));
        assert_eq!(spec("/team/kv/").check(), Ok(()));
        for bad in ["", "/", "a/../b", "a//b", "kv/..\t", "kv/%2e%2E", "kv\\x", "\u{1b}[0m"] {
            let error = spec(bad).check().err();
            assert_eq!(
                error.as_ref().map(Error::kind),
                Some(eso_runtime::ErrorKind::InvalidConfig),
                "{bad:?}"
            );
            let message = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(message.starts_with("spec.mount \""), "{message}");
        }
        let app_role = VaultAuth {
            token_secret_ref: None,
            app_role: Some(AppRole {
                path: "approle/..\r".into(),
                role_id_ref: SecretKeySelector::default(),
                secret_id_ref: SecretKeySelector::default(),
            }),
        };
        let error = connection("https://v", &app_role).check().err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "spec.auth.appRole.path \"approle/..\\r\" is refused: it holds a control character (U+000D) at byte 10"
            )
        );
        let mut namespaced = connection("https://v", &auth);
        namespaced.namespace = Some("team/.%2e/");
        let error = namespaced.check().err().map(|e| e.kind());
        assert_eq!(error, Some(eso_runtime::ErrorKind::InvalidConfig));
    }
}
