//! The traits a provider author implements: [`SecretStore`] for a secret backend and
//! [`Generator`] for a generator. Methods are plain `async fn`s in the impl.
//!
//! A secret store's backend client is built once per provider object by
//! [`SecretStore::connect`] and reused by every call until the object or a Secret it
//! read changes. Methods a store does not implement answer `UNIMPLEMENTED`.

use crate::server::registry::Registry;
use crate::server::{ClientCachePolicy, GeneratorAdapter, RunningProvider, Settings, StoreAdapter};
use crate::server::{cli, logging};
use crate::{
    Ctx, Error, FindQuery, ProviderSpec, PushRemoteRef, PushRequest, RemoteRef, Result, SecretMap, SecretValue,
};
use crate::{Gvk, manifest, source};
use eso_proto::provider::v1::SecretStoreCapabilities;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;

/// What a secret store can do, as ESO core asks through Capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capabilities {
    /// GetSecret, GetSecretMap, GetAllSecrets.
    ReadOnly,
    /// PushSecret, DeleteSecret, SecretExists.
    WriteOnly,
    /// Both.
    ReadWrite,
}

impl From<Capabilities> for SecretStoreCapabilities {
    fn from(capabilities: Capabilities) -> Self {
        match capabilities {
            Capabilities::ReadOnly => SecretStoreCapabilities::ReadOnly,
            Capabilities::WriteOnly => SecretStoreCapabilities::WriteOnly,
            Capabilities::ReadWrite => SecretStoreCapabilities::ReadWrite,
        }
    }
}

/// A secret backend. Implement [`connect`](SecretStore::connect) and the methods the
/// backend supports; the runtime does the rest.
///
/// ```
/// use eso_runtime::{Capabilities, Ctx, Error, Gvk, ProviderSpec, RemoteRef, Result, SecretStore, SecretValue};
///
/// #[derive(serde::Deserialize)]
/// struct EchoSpec { prefix: String }
/// impl ProviderSpec for EchoSpec {
///     const GVK: Gvk = Gvk { group: Gvk::DEFAULT_GROUP, version: Gvk::DEFAULT_VERSION, kind: "Echo" };
/// }
///
/// struct Echo;
/// impl SecretStore for Echo {
///     type Spec = EchoSpec;
///     type Client = String;
///     async fn connect(&self, _ctx: &Ctx, spec: &EchoSpec) -> Result<String> {
///         Ok(spec.prefix.clone())
///     }
///     fn capabilities(&self) -> Capabilities { Capabilities::ReadOnly }
///     async fn get_secret(&self, prefix: &String, remote: &RemoteRef) -> Result<SecretValue> {
///         Ok(SecretValue::from(format!("{prefix}{}", remote.key)))
///     }
/// }
/// ```
pub trait SecretStore: Send + Sync + 'static {
    /// The spec of this store's custom resource.
    type Spec: ProviderSpec;
    /// The backend client `connect` builds; shared by concurrent calls.
    type Client: Send + Sync + 'static;

    /// Builds the backend client for one provider object. Read credentials with
    /// [`Ctx::secret`], which enforces the authentication scope.
    fn connect(&self, ctx: &Ctx, spec: &Self::Spec) -> impl Future<Output = Result<Self::Client>> + Send;

    /// What this store supports. Defaults to read-only.
    fn capabilities(&self) -> Capabilities {
        Capabilities::ReadOnly
    }

    /// Checks a spec without reaching the backend; returns warnings. An error is
    /// reported in-band by Validate.
    fn validate_spec(&self, spec: &Self::Spec) -> Result<Vec<String>> {
        let _ = spec;
        Ok(Vec::new())
    }

    /// Checks the backend with a connected client (e.g. a token lookup); returns warnings.
    fn validate(&self, client: &Self::Client) -> impl Future<Output = Result<Vec<String>>> + Send {
        let _ = client;
        async { Ok(Vec::new()) }
    }

    /// Reads one secret (or one version, or one property of it).
    fn get_secret(
        &self,
        client: &Self::Client,
        remote: &RemoteRef,
    ) -> impl Future<Output = Result<SecretValue>> + Send {
        let _ = (client, remote);
        async { Err(Error::unimplemented("GetSecret")) }
    }

    /// Reads one secret as a map of keys to values.
    fn get_secret_map(
        &self,
        client: &Self::Client,
        remote: &RemoteRef,
    ) -> impl Future<Output = Result<SecretMap>> + Send {
        let _ = (client, remote);
        async { Err(Error::unimplemented("GetSecretMap")) }
    }

    /// Finds secrets by path, name and tags.
    fn get_all_secrets(
        &self,
        client: &Self::Client,
        find: &FindQuery,
    ) -> impl Future<Output = Result<SecretMap>> + Send {
        let _ = (client, find);
        async { Err(Error::unimplemented("GetAllSecrets")) }
    }

    /// Writes a secret (or one property of it).
    fn push_secret(&self, client: &Self::Client, push: &PushRequest) -> impl Future<Output = Result<()>> + Send {
        let _ = (client, push);
        async { Err(Error::unimplemented("PushSecret")) }
    }

    /// Deletes a secret (or one property of it). Deleting what is gone is success.
    fn delete_secret(&self, client: &Self::Client, remote: &PushRemoteRef) -> impl Future<Output = Result<()>> + Send {
        let _ = (client, remote);
        async { Err(Error::unimplemented("DeleteSecret")) }
    }

    /// Whether a secret (or one property of it) exists.
    fn secret_exists(
        &self,
        client: &Self::Client,
        remote: &PushRemoteRef,
    ) -> impl Future<Output = Result<bool>> + Send {
        let _ = (client, remote);
        async { Err(Error::unimplemented("SecretExists")) }
    }
}

/// What [`Generator::generate`] returns: the values, and the state that
/// [`Generator::cleanup`] gets back.
#[derive(Debug)]
pub struct Generated<S> {
    /// The generated values.
    pub secrets: SecretMap,
    /// What cleanup needs to undo this generation; `None` when there is nothing to undo.
    pub state: Option<S>,
}

/// A generator: makes values (and possibly something in a backend that must be
/// removed later).
pub trait Generator: Send + Sync + 'static {
    /// The spec of this generator's custom resource.
    type Spec: ProviderSpec;
    /// What cleanup needs; carried by ESO core as opaque JSON bytes.
    type State: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Generates values.
    fn generate(&self, ctx: &Ctx, spec: &Self::Spec) -> impl Future<Output = Result<Generated<Self::State>>> + Send;

    /// Undoes one generation. Must succeed when what it would remove is already
    /// gone. `spec` is `None` when the generator object no longer exists.
    fn cleanup(
        &self,
        ctx: &Ctx,
        spec: Option<&Self::Spec>,
        state: Self::State,
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = (ctx, spec, state);
        async { Ok(()) }
    }
}

// ---- The builder --------------------------------------------------------------

/// Name and version of a provider binary, for `--version` and logs.
#[derive(Debug, Clone, Copy)]
pub struct ProviderInfo {
    /// The crate name.
    pub name: &'static str,
    /// The crate version.
    pub version: &'static str,
}

/// A provider binary: the kinds it serves. Build it with [`serve!`](crate::serve!).
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
        crate::server::start(self.registry, source, settings).await
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

    async fn serve_with(self, args: cli::ServeArgs) -> Result<()> {
        logging::init(args.log_format, self.info.name);
        tracing::info!(name = self.info.name, version = self.info.version, "starting");
        cli::serve(self, args).await
    }
}
