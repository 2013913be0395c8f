//! Test stores for the runtime's integration tests: `Echo` serves values from its
//! spec (and a credential read through the scope), counts connects, and records
//! calls whose future was dropped before finishing (cancellation).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use eso_runtime::{Ctx, Error, Gvk, ProviderSpec, RemoteRef, Result, SecretKeySelector, SecretStore, SecretValue};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub const ECHO: Gvk = Gvk {
    group: "test.eso-gen.dev",
    version: "v1",
    kind: "Echo",
};
pub const OTHER: Gvk = Gvk {
    group: "test.eso-gen.dev",
    version: "v1",
    kind: "Other",
};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EchoSpec {
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    #[serde(default)]
    pub credentials: Option<SecretKeySelector>,
    #[serde(default)]
    pub delay_ms: u64,
}

impl ProviderSpec for EchoSpec {
    const GVK: Gvk = ECHO;
}

#[derive(Default, Clone)]
pub struct Counters {
    pub connects: Arc<AtomicUsize>,
    pub started: Arc<AtomicUsize>,
    pub finished: Arc<AtomicUsize>,
    pub dropped: Arc<AtomicUsize>,
}

impl Counters {
    pub fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

#[derive(Default, Clone)]
pub struct Echo {
    pub counters: Counters,
}

pub struct EchoClient {
    values: BTreeMap<String, String>,
    credential: Option<SecretValue>,
    delay: Duration,
    counters: Counters,
}

/// Counts a call as dropped unless it was disarmed at the end.
struct DropGuard {
    counters: Counters,
    armed: bool,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if self.armed {
            self.counters.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl SecretStore for Echo {
    type Spec = EchoSpec;
    type Client = EchoClient;

    async fn connect(&self, ctx: &Ctx, spec: &EchoSpec) -> Result<EchoClient> {
        self.counters.connects.fetch_add(1, Ordering::SeqCst);
        // Make concurrent first calls overlap, to prove they connect once.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let credential = match &spec.credentials {
            Some(selector) => Some(ctx.secret(selector).await?),
            None => None,
        };
        Ok(EchoClient {
            values: spec.values.clone(),
            credential,
            delay: Duration::from_millis(spec.delay_ms),
            counters: self.counters.clone(),
        })
    }

    async fn get_secret(&self, client: &EchoClient, remote: &RemoteRef) -> Result<SecretValue> {
        client.counters.started.fetch_add(1, Ordering::SeqCst);
        let mut guard = DropGuard {
            counters: client.counters.clone(),
            armed: true,
        };
        if !client.delay.is_zero() {
            tokio::time::sleep(client.delay).await;
        }
        guard.armed = false;
        client.counters.finished.fetch_add(1, Ordering::SeqCst);
        if remote.key == "credential" {
            return client
                .credential
                .clone()
                .ok_or_else(|| Error::secret_not_found("credential"));
        }
        client
            .values
            .get(&remote.key)
            .map(|v| SecretValue::from(v.as_str()))
            .ok_or_else(|| Error::secret_not_found(&remote.key))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct OtherSpec {}

impl ProviderSpec for OtherSpec {
    const GVK: Gvk = OTHER;
}

pub struct Other;

impl SecretStore for Other {
    type Spec = OtherSpec;
    type Client = ();

    async fn connect(&self, _ctx: &Ctx, _spec: &OtherSpec) -> Result<()> {
        Ok(())
    }

    async fn get_secret(&self, _client: &(), remote: &RemoteRef) -> Result<SecretValue> {
        Ok(SecretValue::from(format!("other:{}", remote.key)))
    }
}

pub fn echo_object(namespace: &str, name: &str, values: &str) -> String {
    format!(
        "apiVersion: test.eso-gen.dev/v1\nkind: Echo\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec: {{values: {values}}}\n---\n"
    )
}

pub fn provider(echo: Echo) -> eso_runtime::Provider {
    eso_runtime::Provider::new(eso_runtime::ProviderInfo {
        name: "runtime-tests",
        version: "0",
    })
    .secret_store(echo)
    .secret_store(Other)
}

/// GetSecret of `key` from `namespace/name` of kind `gvk`, through a SecretStore in
/// that namespace.
pub fn get_secret_request(
    gvk: &Gvk,
    namespace: &str,
    name: &str,
    key: &str,
) -> eso_runtime::proto::provider::v1::GetSecretRequest {
    eso_runtime::testing::requests::StoreCall::new(gvk, namespace, name).get(key, "", "")
}

/// Polls `condition` every 20 ms for up to `limit`.
pub async fn wait_for(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}

/// A plain HTTP/1.1 GET; returns (status, body).
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to HTTP port");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Polls an async `condition` every 20 ms for up to `limit`.
pub async fn wait_for_async<F, Fut>(limit: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition().await
}
