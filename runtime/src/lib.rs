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

mod blocking;
pub mod certs;
mod cli;
pub mod client;
mod context;
pub mod crd;
mod dispatch;
mod display;
mod error;
mod fs;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod kind;
pub mod limits;
pub mod logging;
pub mod manifest;
pub mod metrics;
mod poll;
mod preface;
mod provider;
mod request;
pub mod scope;
mod secret;
mod server;
mod service;
pub mod source;
pub mod testing;
pub mod tls;

pub use cli::{ServeArgs, parse_duration};
pub use context::{Ctx, SecretKeySelector};
pub use crd::{Condition, ProviderStatus};
pub use dispatch::ClientCachePolicy;
pub use display::{Bounded, MAX_ECHO_CHARS, bounded};
pub use error::{Error, ErrorKind, Result, without_quoted_values};
pub use kind::{Gvk, ProviderSpec};
pub use provider::{Capabilities, Generated, Generator, SecretStore};
pub use request::{FindQuery, PushRemoteRef, PushRequest, RemoteRef};
pub use secret::{SecretMap, SecretValue};
pub use server::{RunningProvider, Settings, Transport};

/// Limits the server enforces.
pub mod server_limits {
    pub use crate::request::{MAX_REGEXP_BYTES, REGEXP_DFA_SIZE_LIMIT, REGEXP_SIZE_LIMIT};
    pub use crate::server::MAX_RESPONSE_BYTES;
}

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

/// The attribute macros: `#[provider_spec]`, `#[generator_spec]`, `#[spec_type]`, `#[secret_store]`.
pub use eso_macros::{generator_spec, provider_spec, secret_store, spec_type};

/// The wire types, re-exported.
pub use eso_proto as proto;

use dispatch::{GeneratorAdapter, Registry, StoreAdapter};
use std::sync::Arc;

/// Name and version of a provider binary, for `--version` and logs.
#[derive(Debug, Clone, Copy)]
pub struct ProviderInfo {
    /// The crate name.
    pub name: &'static str,
    /// The crate version.
    pub version: &'static str,
}

/// A provider binary: the kinds it serves. Build it with [`serve!`].
pub struct Provider {
    info: ProviderInfo,
    registry: Registry,
    errors: Vec<Error>,
    /// Applied to every store kind at start, whenever it was set.
    client_cache: Option<ClientCachePolicy>,
}

/// Starts building a provider named after the calling crate.
///
/// ```
/// let provider = eso_runtime::serve!();
/// ```
#[macro_export]
macro_rules! serve {
    () => {
        $crate::Provider::new($crate::ProviderInfo {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        })
    };
}

impl Provider {
    /// A provider with no kinds yet.
    pub fn new(info: ProviderInfo) -> Self {
        Provider {
            info,
            registry: Registry::default(),
            errors: Vec::new(),
            client_cache: None,
        }
    }

    /// Serves a secret store kind.
    pub fn secret_store<S: SecretStore>(mut self, store: S) -> Self {
        if let Err(error) = self.registry.add_store(Arc::new(StoreAdapter::new(store))) {
            self.errors.push(error);
        }
        self
    }

    /// Serves a generator kind.
    pub fn generator<G: Generator>(mut self, generator: G) -> Self {
        if let Err(error) = self.registry.add_generator(Arc::new(GeneratorAdapter(generator))) {
            self.errors.push(error);
        }
        self
    }

    /// Sets how many backend clients each store kind keeps and for how long
    /// (default: 1024, dropped after 15 minutes unused). Applies to every store
    /// kind, registered before or after this call.
    pub fn client_cache(mut self, policy: ClientCachePolicy) -> Self {
        self.client_cache = Some(policy);
        self
    }

    /// The kinds to watch in Kubernetes: every store and generator kind, with
    /// its plural resource name.
    pub fn watched_kinds(&self) -> Result<Vec<source::kube::WatchedKind>> {
        let manifest = self.manifest()?;
        Ok(manifest
            .kinds
            .iter()
            .chain(&manifest.generators)
            .map(|kind| source::kube::WatchedKind {
                group: kind.group.clone(),
                version: kind.version.clone(),
                kind: kind.kind.clone(),
                plural: kind.plural.clone(),
            })
            .collect())
    }

    /// The provider's name and version.
    pub fn info(&self) -> ProviderInfo {
        self.info
    }

    /// The secret store kinds served.
    pub fn store_kinds(&self) -> Vec<Gvk> {
        self.registry.store_kinds()
    }

    /// The generator kinds served.
    pub fn generator_kinds(&self) -> Vec<Gvk> {
        self.registry.generator_kinds()
    }

    /// The provider manifest: kinds, CRDs, capabilities, permissions, ports.
    pub fn manifest(&self) -> Result<manifest::Manifest> {
        manifest::build(self.info, &self.registry)
    }

    /// Starts serving with explicit settings and source (tests, embedding).
    pub async fn start(self, settings: Settings, source: Arc<dyn source::Source>) -> Result<RunningProvider> {
        if let Some(error) = self.errors.into_iter().next() {
            return Err(error);
        }
        if self.registry.store_kinds().is_empty() && self.registry.generator_kinds().is_empty() {
            return Err(Error::invalid_config(
                "the provider serves no kinds: add .secret_store(…) or .generator(…)",
            ));
        }
        if let Some(policy) = self.client_cache {
            for store in self.registry.stores() {
                store.set_client_cache_policy(policy);
            }
        }
        server::start(self.registry, source, settings).await
    }

    /// Parses the command line and environment, serves until SIGTERM or SIGINT,
    /// drains in-flight calls, and returns the process exit code.
    pub async fn run(self) -> std::process::ExitCode {
        use clap::{CommandFactory, FromArgMatches};
        let command = cli::Cli::command().name(self.info.name).version(self.info.version);
        let cli = match cli::Cli::from_arg_matches(&command.get_matches()) {
            Ok(cli) => cli,
            Err(error) => error.exit(),
        };
        let result = match cli.command {
            Some(cli::Command::Manifest) => self.manifest().and_then(|m| m.to_json()).map(|json| println!("{json}")),
            Some(cli::Command::Crds) => self.manifest().and_then(|m| m.crds_yaml()).map(|yaml| print!("{yaml}")),
            Some(cli::Command::Serve(args)) => self.serve_with(*args).await,
            None => self.serve_with(cli.serve).await,
        };
        match result {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(%error, "provider failed");
                eprintln!("error: {error}");
                std::process::ExitCode::FAILURE
            }
        }
    }

    async fn serve_with(self, args: ServeArgs) -> Result<()> {
        logging::init(args.log_format, self.info.name);
        tracing::info!(name = self.info.name, version = self.info.version, "starting");
        cli::serve(self, args).await
    }
}
