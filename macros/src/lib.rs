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
//! The examples here are marked `ignore` because a proc-macro crate cannot depend
//! on the runtime its expansions name; they run in `eso-runtime`'s documentation
//! and tests (`runtime/tests/macros.rs`, and the compile errors in `runtime/tests/ui`);
//! the expansions are snapshots in `src/snapshots`.

mod args;
mod capabilities;
mod credentials;
mod errors;
mod spec;

use proc_macro::TokenStream;

/// Makes a struct the spec of a secret store provider's custom resource.
///
/// ```ignore
/// use eso_runtime::SecretKeySelector;
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
/// // Generated: `VaultResource` (the whole object: metadata, spec, status) and
/// // `impl eso_runtime::ProviderSpec for VaultSpec`.
/// let crd = <VaultSpec as eso_runtime::ProviderSpec>::crd().unwrap()?;
/// assert_eq!(crd.spec.names.kind, "Vault");
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
#[proc_macro_attribute]
pub fn provider_spec(args: TokenStream, item: TokenStream) -> TokenStream {
    spec::expand(args.into(), item.into(), spec::Role::Provider).into()
}

/// Makes a struct the spec of a generator's custom resource. Same arguments,
/// defaults (group `provider.external-secrets.io`, version `v2alpha1`), generated
/// items and credential lint as [`macro@provider_spec`].
///
/// ```ignore
/// /// Generates random passwords.
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
/// struct PasswordGenerator;
/// impl eso_runtime::Generator for PasswordGenerator {
///     type Spec = PasswordSpec;
///     // …
/// }
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
/// ```ignore
/// /// One role binding.
/// #[eso_runtime::spec_type]
/// pub struct AppRole {
///     /// The role id.
///     pub role_id: String,
///     /// The secret id, from a Kubernetes Secret.
///     pub secret_ref: eso_runtime::SecretKeySelector,
/// }
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
/// ```ignore
/// use eso_runtime::{Ctx, PushRequest, RemoteRef, Result, SecretStore, SecretValue};
///
/// pub struct Vault;
///
/// #[eso_runtime::secret_store] // get_secret + push_secret: ReadWrite
/// impl SecretStore for Vault {
///     type Spec = VaultSpec;
///     type Client = VaultClient;
///     async fn connect(&self, ctx: &Ctx, spec: &VaultSpec) -> Result<VaultClient> {
///         VaultClient::new(&spec.server, ctx.secret(&spec.token_secret_ref).await?)
///     }
///     async fn get_secret(&self, client: &VaultClient, remote: &RemoteRef) -> Result<SecretValue> {
///         client.read(&remote.key).await
///     }
///     async fn push_secret(&self, client: &VaultClient, push: &PushRequest) -> Result<()> {
///         client.write(push).await
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn secret_store(args: TokenStream, item: TokenStream) -> TokenStream {
    capabilities::expand(args.into(), item.into()).into()
}
