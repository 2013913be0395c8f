//! The traits a provider author implements: [`SecretStore`] for a secret backend and
//! [`Generator`] for a generator. Methods are plain `async fn`s in the impl.
//!
//! A secret store's backend client is built once per provider object by
//! [`SecretStore::connect`] and reused by every call until the object or a Secret it
//! read changes. Methods a store does not implement answer `UNIMPLEMENTED`.

use crate::{
    Ctx, Error, FindQuery, ProviderSpec, PushRemoteRef, PushRequest, RemoteRef, Result, SecretMap, SecretValue,
};
use eso_proto::provider::v1::SecretStoreCapabilities;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;

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
