//! The provider process: gRPC (mTLS) on one port, HTTP (metrics, health) on
//! another, and graceful shutdown — and the settings to start it with yourself
//! ([`Provider::start`](crate::Provider::start), for tests and embedding; the
//! binary's command line builds them from flags).
//!
//! | file | its one job |
//! |---|---|
//! | `cli.rs` | flags and environment → [`Settings`], `--dev`, signals |
//! | `listen.rs` | sockets, TLS handshakes, the gRPC routes, health, drain |
//! | `connection.rs` | one connection over HTTP/2: its settings, `GOAWAY` when idle, at its age and at the drain |
//! | `limits.rs` | what one caller can make the server hold ([`Limits`]) |
//! | `preface.rs` | a connection must start HTTP/2 in time |
//! | `service.rs` | the two gRPC services: one handler path for every call |
//! | `call.rs` | a wire request → the kind, scope and object it addresses |
//! | `registry.rs` | the kinds served; `apiVersion` + `kind` → store or generator |
//! | `adapters.rs` | the author's traits behind object-safe ones; spec parsing |
//! | `client_cache.rs` | backend clients per object and credentials ([`ClientCachePolicy`]) |
//! | `readiness.rs` | what a call records in the object's `Ready` condition |
//! | `metrics.rs`, `http.rs`, `logging.rs` | `/metrics`, `/healthz` `/readyz`, log format |

pub(crate) mod adapters;
mod call;
pub(crate) mod cli;
mod client_cache;
mod connection;
mod http;
pub(crate) mod limits;
mod listen;
pub(crate) mod logging;
pub(crate) mod metrics;
mod preface;
mod readiness;
pub(crate) mod registry;
pub(crate) mod service;

pub use crate::request::{MAX_REGEXP_BYTES, REGEXP_DFA_SIZE_LIMIT, REGEXP_SIZE_LIMIT};
pub use client_cache::ClientCachePolicy;
pub use limits::{FREE_REQUEST_BYTES, Limits, MAX_REQUEST_BYTES};
pub use metrics::Metrics;

pub(crate) use adapters::{GeneratorAdapter, StoreAdapter};
pub(crate) use listen::start;
#[cfg(fuzzing)]
pub(crate) use metrics::METHODS;

use crate::tls::{CertPaths, ExpectedNames};
use crate::{Error, Result};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// ESO core (grpc-go) accepts at most 4 MiB per message; a larger response fails
/// here with a clear status instead of obscurely in the client.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// How the gRPC port is secured.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Mutual TLS from files, checked and hot-reloaded.
    MutualTls {
        /// The three PEM files.
        paths: CertPaths,
        /// Names the server certificate must carry.
        expected: ExpectedNames,
        /// When not empty, only client certificates whose CN or a DNS SAN is one of
        /// these are accepted (ESO core's is `external-secrets-controller`).
        allowed_clients: Vec<String>,
    },
    /// No TLS at all. Only for debugging; logged loudly.
    InsecurePlaintext,
}

/// Everything the server needs besides the provider itself.
#[derive(Debug, Clone)]
pub struct Settings {
    /// gRPC listen address (the binary's default port: [`DEFAULT_PORTS`](crate::manifest::DEFAULT_PORTS)).
    pub grpc_addr: SocketAddr,
    /// HTTP listen address for `/metrics`, `/healthz`, `/readyz` (the binary's default
    /// port: [`DEFAULT_PORTS`](crate::manifest::DEFAULT_PORTS)).
    pub http_addr: SocketAddr,
    /// TLS or plaintext.
    pub transport: Transport,
    /// How often certificate files are checked for changes.
    pub reload_interval: Duration,
    /// How long in-flight calls may take to finish after a shutdown begins.
    pub shutdown_grace: Duration,
    /// How long to keep serving, reporting not ready, before draining begins.
    pub shutdown_delay: Duration,
    /// What one caller can make the server hold: streams, calls, request bytes, time.
    pub limits: Limits,
}

/// A started provider. Dropping it does not stop it; call [`shutdown`](Self::shutdown).
pub struct RunningProvider {
    pub(crate) grpc_addr: SocketAddr,
    pub(crate) http_addr: SocketAddr,
    pub(crate) stop: CancellationToken,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) task: tokio::task::JoinHandle<Result<()>>,
}

impl RunningProvider {
    /// Where gRPC listens (with the real port when 0 was asked for).
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Where HTTP listens.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The provider's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Begins a graceful shutdown: health turns NOT_SERVING, no new calls are
    /// accepted, in-flight calls get the grace period to finish.
    pub fn shutdown(&self) {
        self.stop.cancel();
    }

    /// A token that begins the shutdown when cancelled (e.g. from a signal handler).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Waits until the server has stopped.
    pub async fn wait(self) -> Result<()> {
        self.task
            .await
            .map_err(|error| Error::internal(format!("server task failed: {error}")))?
    }
}
