//! # eso-runtime
//!
//! The runtime for External Secrets Operator providers that run out of process.
//! A provider author writes a spec struct and the backend calls; this crate serves
//! them to ESO core over gRPC with mutual TLS, with everything around it: dispatch
//! by kind, namespace scopes, certificate hot reload, metrics, health, graceful
//! shutdown, a dev mode, and a client that calls like ESO core does.
//!
//! ```no_run
//! use eso_runtime::{Ctx, Gvk, ProviderSpec, RemoteRef, Result, SecretStore, SecretValue};
//!
//! #[derive(serde::Deserialize)]
//! struct EchoSpec { prefix: String }
//! impl ProviderSpec for EchoSpec {
//!     const GVK: Gvk = Gvk { group: Gvk::DEFAULT_GROUP, version: Gvk::DEFAULT_VERSION, kind: "Echo" };
//! }
//!
//! struct Echo;
//! impl SecretStore for Echo {
//!     type Spec = EchoSpec;
//!     type Client = String;
//!     async fn connect(&self, _ctx: &Ctx, spec: &EchoSpec) -> Result<String> { Ok(spec.prefix.clone()) }
//!     async fn get_secret(&self, prefix: &String, remote: &RemoteRef) -> Result<SecretValue> {
//!         Ok(format!("{prefix}{}", remote.key).into())
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     eso_runtime::serve!().secret_store(Echo).run().await
//! }
//! ```
//!
//! ## Where things are
//!
//! The crate root is the author's API: the traits ([`SecretStore`], [`Generator`],
//! [`ProviderSpec`]), what their methods receive ([`Ctx`], [`RemoteRef`],
//! [`FindQuery`], [`PushRequest`], …) and return ([`SecretValue`], [`Error`]), the
//! builder ([`Provider`], [`serve!`]) and the attribute macros. The rest, by concept:
//!
//! | module | what it holds |
//! |---|---|
//! | `provider.rs` | the traits an author implements, and the [`Provider`] builder |
//! | `error.rs` | [`Error`] and [`ErrorKind`]: the one mapping from errors to gRPC codes |
//! | `request.rs` | wire requests → [`RemoteRef`], [`FindQuery`], [`PushRequest`] (checked, bounded) |
//! | [`scope`] | the one place for namespace rules: which namespaces a call may touch |
//! | [`server`] | the process: listeners, the services, limits, metrics, the command line |
//! | [`tls`] | everything about certificates: loading, self-check, hot reload, issuing ([`tls::issue`]) |
//! | [`source`] | where provider objects and Secrets come from: Kubernetes or a folder |
//! | [`crd`] | the CRDs of provider kinds: schemas, status, structural checks |
//! | [`manifest`] | what a binary says about itself (`--manifest`), for `eso-gen` |
//! | [`util`] | bounded, escaped text for errors and logs; durations and sizes |
//! | `client` | (feature `client`) a client that calls a provider as ESO core does |
//! | `testing` | (feature `testing`) the in-process harness for a provider's tests |
//!
//! ## The request path
//!
//! One line through the modules, the same for every RPC of both services:
//!
//! 1. `server/listen.rs` accepts the connection (TLS with the reloaded
//!    certificates, the client's identity checked, HTTP/2 preface in time),
//!    `server/connection.rs` serves it over HTTP/2 until it is idle, old or
//!    drained, and `server/limits.rs` admits each call (in-flight and
//!    request-memory limits, the caller's deadline).
//! 2. `server/service.rs`: the method's handler is one call of `Services::handle`,
//!    which takes the reference and source namespace out of the message
//!    (`server/call.rs`, `WireRequest`), describes the call for logs, and times,
//!    counts and logs it (`server/metrics.rs`).
//! 3. `server/call.rs` resolves it: `server/registry.rs` finds the kind from
//!    `apiVersion` + `kind`, [`scope`] decides the namespaces from the store kind
//!    and the object's annotations, the [`source`] finds the object.
//! 4. `request.rs` turns the rest of the message into the author's types
//!    ([`RemoteRef`], [`FindQuery`] — a regexp compiled on the blocking pool —,
//!    [`PushRequest`]).
//! 5. `server/adapters.rs` parses the object's spec, gets the backend client
//!    from `server/client_cache.rs` (connecting once, through [`Ctx`], when the
//!    object or a Secret it read changed) and calls the author's method;
//!    `server/readiness.rs` records the outcome in the object's `Ready` condition.
//! 6. The result goes back through [`Error`]'s code mapping (`error.rs`), the
//!    response size is checked against [`server::MAX_RESPONSE_BYTES`].

// The author's API: what a provider is written against (re-exported below).
mod context;
mod error;
mod kind;
mod provider;
mod request;
mod secret;

// Public modules for what is not written in every provider.
pub mod crd;
pub mod manifest;
pub mod scope;
pub mod server;
pub mod source;
pub mod tls;

/// Helpers for text a provider echoes or parses: request and backend strings
/// bounded and escaped for errors and logs, quoted values stripped from backend
/// messages, durations and byte sizes as the command line spells them.
pub mod util {
    pub use crate::display::{Bounded, MAX_ECHO_CHARS, bounded};
    pub use crate::error::without_quoted_values;
    pub use crate::units::{parse_bytes, parse_duration};
}

// Internal machinery.
mod blocking;
mod display;
mod fs;
mod lru;
mod poll;
mod units;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "testing")]
pub mod testing;

/// The cargo-fuzz entry points (`runtime/fuzz`); built with `--cfg fuzzing` and
/// the `testing` feature only.
#[cfg(all(fuzzing, feature = "testing"))]
#[doc(hidden)]
pub mod fuzzing;

pub use context::{Ctx, SecretKeySelector};
pub use error::{Error, ErrorKind, Result};
pub use kind::{Gvk, ProviderSpec};
pub use provider::{Capabilities, Generated, Generator, Provider, ProviderInfo, SecretStore};
pub use request::{FindQuery, PushRemoteRef, PushRequest, RemoteRef};
pub use secret::{SecretMap, SecretValue};

/// The attribute macros: `#[provider_spec]`, `#[generator_spec]`, `#[spec_type]`, `#[secret_store]`.
pub use eso_macros::{generator_spec, provider_spec, secret_store, spec_type};

/// The wire types, re-exported.
pub use eso_proto as proto;

/// What the macros' expansions refer to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use k8s_openapi;
    pub use kube_core;
    pub use kube_derive::CustomResource;
    pub use schemars;
    pub use serde;
    pub use serde_json;
}
