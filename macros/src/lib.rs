//! Attribute macros for eso-gen providers. Use them through `eso-runtime`, which
//! re-exports them (`eso_runtime::provider_spec` and so on) together with
//! everything their expansions refer to (`eso_runtime::__private`):
//!
//! - [`macro@provider_spec`] / [`macro@generator_spec`] turn a spec struct into a
//!   namespaced custom resource (kube-derive + schemars), with a status, printer
//!   columns, the runtime's `ProviderSpec` implementation, and a generated test
//!   that the CRD is structural;
//! - [`macro@spec_type`] derives what a type nested in a spec needs;
//! - [`macro@secret_store`] infers a store's capabilities from the methods it implements.
//!
//! The examples use the macros as a provider author does, through `eso_runtime`
//! (a dev-dependency of this crate, as kube is of kube-derive), and run as this
//! crate's doc tests. The compile errors, as a newcomer sees them, are pinned in
//! `runtime/tests/ui`; the expansions in `src/snapshots`.

mod args;
mod capabilities;
mod credentials;
mod errors;
mod spec;

use proc_macro::TokenStream;

/// Makes a struct the spec of a secret store provider's custom resource.
///
/// # Example
///
/// ```
/// use eso_runtime::{ProviderSpec, SecretKeySelector};
///
/// /// Reads secrets from a Vault KV v2 mount.
/// #[eso_runtime::provider_spec(kind = "Vault", shortname = "vlt")]
/// pub struct VaultSpec {
///     /// Vault address, e.g. https://vault.example:8200
///     pub server: String,
///     /// KV v2 mount path.
///     #[serde(default = "default_mount")]
///     pub mount: String,
///     /// Token to authenticate with, read from a Kubernetes Secret.
///     pub token_secret_ref: SecretKeySelector,
///     /// Where an agent writes its token; a path, not a credential.
///     #[eso(not_a_credential)]
///     pub token_path: Option<String>,
/// }
///
/// fn default_mount() -> String {
///     "secret".into()
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Generated: `VaultResource`, the whole object (metadata, spec, status), with
/// // camelCase fields on the wire …
/// let vault: VaultResource = serde_json::from_value(serde_json::json!({
///     "apiVersion": "provider.external-secrets.io/v2alpha1",
///     "kind": "Vault",
///     "metadata": { "name": "vault", "namespace": "default" },
///     "spec": {
///         "server": "https://vault.example:8200",
///         "tokenSecretRef": { "name": "vault-token", "key": "token" }
///     }
/// }))?;
/// assert_eq!(vault.spec.mount, "secret");
/// assert_eq!(vault.spec.token_secret_ref.name, "vault-token");
///
/// // … and `impl ProviderSpec for VaultSpec`: the group, version and kind, and the CRD.
/// assert_eq!(VaultSpec::GVK.api_version(), "provider.external-secrets.io/v2alpha1");
/// let crd = VaultSpec::crd().expect("a generated spec has a CRD")?;
/// assert_eq!(crd.spec.names.plural, "vaults");
/// assert_eq!(crd.spec.names.short_names, Some(vec!["vlt".to_string()]));
/// # Ok(())
/// # }
/// ```
///
/// # Arguments
///
/// | argument | default | |
/// | --- | --- | --- |
/// | `kind` | required | the Kubernetes kind, UpperCamelCase |
/// | `group` | `provider.external-secrets.io` | the API group |
/// | `version` | `v2alpha1` | the API version |
/// | `plural` | inferred from the kind | the resource name, e.g. `vaults` |
/// | `shortname` | none; repeatable | kubectl short names |
/// | `category` | none; repeatable | kubectl categories |
/// | `root` | `<Kind>Resource` | the name of the generated resource type, so that the store itself may be named after the kind |
/// | `doc` | a sentence naming the kind | the doc comment of the generated resource type |
///
/// # What it generates
///
/// - derives `CustomResource` (namespaced, with `ProviderStatus` as the status and
///   Ready / Reason / Age printer columns), serde's `Serialize` and `Deserialize`,
///   schemars' `JsonSchema`, `Clone` and `Debug` — do not derive these yourself;
/// - fields are camelCase on the wire (unless the struct has its own
///   `#[serde(rename_all = ...)]`); doc comments become schema descriptions; your
///   `#[serde(...)]`, `#[schemars(...)]` and other attributes are kept;
/// - `impl eso_runtime::ProviderSpec` with the GVK and the CRD, its schema
///   normalised and checked against the API server's structural rules;
/// - a `#[test]` `<kind>_crd_is_structural` (in a private module) that fails with
///   the offending schema path when the CRD would be rejected.
///
/// # The credential lint
///
/// A field whose name contains password, passwd, secret, token, apikey,
/// privatekey, clientsecret, credential, accesskey, secretkey, passphrase or bearer
/// (any case, `_` ignored) and whose type is `String`, `&str`, or an `Option` or
/// `Vec` of one, is a compile error: credentials belong in a Kubernetes Secret,
/// referenced with `eso_runtime::SecretKeySelector` and read with `ctx.secret(..)`.
/// Mark a false positive `#[eso(not_a_credential)]`; the attribute is removed.
///
/// ```compile_fail
/// #[eso_runtime::provider_spec(kind = "Acme")]
/// pub struct AcmeSpec {
///     /// Refused: field `api_token` looks like a credential but is a plain string; …
///     pub api_token: String,
/// }
/// ```
#[proc_macro_attribute]
pub fn provider_spec(args: TokenStream, item: TokenStream) -> TokenStream {
    spec::expand(args.into(), item.into(), spec::Role::Provider).into()
}

/// Makes a struct the spec of a generator's custom resource. Same arguments,
/// defaults (group `provider.external-secrets.io`, version `v2alpha1`), generated
/// items and credential lint as [`macro@provider_spec`].
///
/// # Example
///
/// ```
/// use eso_runtime::{Ctx, Generated, Generator, ProviderSpec, Result, SecretMap};
///
/// /// Generates passwords.
/// #[eso_runtime::generator_spec(kind = "Password")]
/// pub struct PasswordSpec {
///     /// Length of the password.
///     #[serde(default = "default_length")]
///     pub length: u16,
///     /// Characters allowed as symbols; not a credential.
///     #[eso(not_a_credential)]
///     pub password_symbols: Option<String>,
/// }
///
/// fn default_length() -> u16 {
///     24
/// }
///
/// pub struct PasswordGenerator;
///
/// impl Generator for PasswordGenerator {
///     type Spec = PasswordSpec;
///     type State = ();
///
///     async fn generate(&self, _ctx: &Ctx, spec: &PasswordSpec) -> Result<Generated<()>> {
///         let password = "x".repeat(spec.length.into()); // not a good password
///         let secrets = SecretMap::from([("password".to_string(), password.into())]);
///         Ok(Generated { secrets, state: None })
///     }
/// }
///
/// let provider = eso_runtime::serve!().generator(PasswordGenerator);
/// assert_eq!(provider.generator_kinds(), [PasswordSpec::GVK]);
/// assert_eq!(PasswordSpec::GVK.kind, "Password");
/// ```
#[proc_macro_attribute]
pub fn generator_spec(args: TokenStream, item: TokenStream) -> TokenStream {
    spec::expand(args.into(), item.into(), spec::Role::Generator).into()
}

/// Derives serde's `Serialize` and `Deserialize`, schemars' `JsonSchema`, `Clone`
/// and `Debug` for a struct or enum used inside a spec, with camelCase field names
/// (structs with named fields) and the same credential lint as
/// [`macro@provider_spec`]. Takes no arguments.
///
/// # Example
///
/// ```
/// use eso_runtime::{ProviderSpec, SecretKeySelector};
///
/// /// One AppRole login.
/// #[eso_runtime::spec_type]
/// pub struct AppRole {
///     /// The role id.
///     pub role_id: String,
///     /// The secret id, from a Kubernetes Secret.
///     pub secret_ref: SecretKeySelector,
/// }
///
/// /// Reads secrets from Vault.
/// #[eso_runtime::provider_spec(kind = "Vault")]
/// pub struct VaultSpec {
///     /// Vault address.
///     pub server: String,
///     /// How to log in with AppRole, if so.
///     pub app_role: Option<AppRole>,
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let spec: VaultSpec = serde_json::from_value(serde_json::json!({
///     "server": "https://vault.example:8200",
///     "appRole": { "roleId": "app", "secretRef": { "name": "approle", "key": "secret-id" } }
/// }))?;
/// assert_eq!(spec.app_role.map(|login| login.role_id).as_deref(), Some("app"));
/// // The nested type is part of the CRD's schema, which the API server accepts.
/// VaultSpec::crd().expect("a generated spec has a CRD")?;
/// # Ok(())
/// # }
/// ```
#[proc_macro_attribute]
pub fn spec_type(args: TokenStream, item: TokenStream) -> TokenStream {
    spec::expand_nested(args.into(), item.into()).into()
}

/// On `impl eso_runtime::SecretStore for X`: implements `capabilities()` from the
/// methods present — `get_secret`, `get_secret_map`, `get_all_secrets` read;
/// `push_secret`, `delete_secret`, `secret_exists` write. Reads only → `ReadOnly`,
/// writes only → `WriteOnly`, both → `ReadWrite`; neither is a compile error, and so
/// is a hand-written `fn capabilities`. Methods left out answer `UNIMPLEMENTED`,
/// naming the method, through the trait's default bodies.
///
/// # Example
///
/// ```
/// use eso_runtime::{Capabilities, Ctx, PushRequest, RemoteRef, Result, SecretKeySelector, SecretStore, SecretValue};
///
/// /// Reads secrets from Vault.
/// #[eso_runtime::provider_spec(kind = "Vault")]
/// pub struct VaultSpec {
///     /// Vault address.
///     pub server: String,
///     /// Token to authenticate with, read from a Kubernetes Secret.
///     pub token_secret_ref: SecretKeySelector,
/// }
/// # /// A stand-in for a real Vault client.
/// # pub struct VaultClient;
/// # impl VaultClient {
/// #     fn new(_server: &str, _token: SecretValue) -> Result<Self> {
/// #         Ok(VaultClient)
/// #     }
/// #     async fn read(&self, key: &str) -> Result<SecretValue> {
/// #         Err(eso_runtime::Error::secret_not_found(key))
/// #     }
/// #     async fn write(&self, _push: &PushRequest) -> Result<()> {
/// #         Ok(())
/// #     }
/// # }
///
/// pub struct Vault;
///
/// #[eso_runtime::secret_store] // get_secret + push_secret: ReadWrite
/// impl SecretStore for Vault {
///     type Spec = VaultSpec;
///     type Client = VaultClient;
///
///     async fn connect(&self, ctx: &Ctx, spec: &VaultSpec) -> Result<VaultClient> {
///         VaultClient::new(&spec.server, ctx.secret(&spec.token_secret_ref).await?)
///     }
///
///     async fn get_secret(&self, client: &VaultClient, remote: &RemoteRef) -> Result<SecretValue> {
///         client.read(&remote.key).await
///     }
///
///     async fn push_secret(&self, client: &VaultClient, push: &PushRequest) -> Result<()> {
///         client.write(push).await
///     }
/// }
///
/// assert_eq!(Vault.capabilities(), Capabilities::ReadWrite);
/// ```
#[proc_macro_attribute]
pub fn secret_store(args: TokenStream, item: TokenStream) -> TokenStream {
    capabilities::expand(args.into(), item.into()).into()
}
