//! Attribute macros for eso-gen providers, re-exported by `eso-runtime`:
//!
//! - [`macro@provider_spec`] / [`macro@generator_spec`] turn a spec struct into a
//!   namespaced custom resource (kube-derive + schemars), with a status, printer
//!   columns, the runtime's registration, and a generated test that the CRD is
//!   structural;
//! - [`macro@spec_type`] derives what a type nested in a spec needs;
//! - [`macro@secret_store`] infers a store's capabilities from the methods it implements.
//!
//! Examples run in `eso-runtime`'s documentation, which can use the runtime.

mod args;
mod capabilities;
mod credentials;
mod spec;

use proc_macro::TokenStream;

/// Makes a struct the spec of a provider's custom resource.
///
/// ```ignore
/// /// Reads secrets from Acme.
/// #[eso_runtime::provider_spec(kind = "Acme", shortname = "acme")]
/// pub struct AcmeSpec {
///     /// Server address.
///     pub server: String,
///     /// Token, from a Kubernetes Secret.
///     pub token: eso_runtime::SecretKeySelector,
/// }
/// ```
///
/// Arguments: `kind` (required), `group` (default `provider.external-secrets.io`),
/// `version` (default `v2alpha1`), `plural`, `shortname` (repeatable), `category`
/// (repeatable), `root` (the generated resource type's name, default `<Kind>Resource`,
/// so the store itself may be named after the kind). Fields are camelCase on the wire; doc comments become schema
/// descriptions. A field that looks like a credential but is a plain string is a
/// compile error; mark a false positive `#[eso(not_a_credential)]`.
#[proc_macro_attribute]
pub fn provider_spec(args: TokenStream, item: TokenStream) -> TokenStream {
    spec::expand(args.into(), item.into(), spec::Role::Provider).into()
}

/// Makes a struct the spec of a generator's custom resource; same arguments as
/// [`macro@provider_spec`].
#[proc_macro_attribute]
pub fn generator_spec(args: TokenStream, item: TokenStream) -> TokenStream {
    spec::expand(args.into(), item.into(), spec::Role::Generator).into()
}

/// Derives serde and schemars for a struct or enum used inside a spec, with the
/// same credential lint and camelCase naming.
#[proc_macro_attribute]
pub fn spec_type(args: TokenStream, item: TokenStream) -> TokenStream {
    spec::expand_nested(args.into(), item.into()).into()
}

/// On `impl SecretStore for X`: infers `capabilities()` from the methods present
/// (reads only → READ_ONLY, writes only → WRITE_ONLY, both → READ_WRITE).
#[proc_macro_attribute]
pub fn secret_store(args: TokenStream, item: TokenStream) -> TokenStream {
    capabilities::expand(args.into(), item.into()).into()
}
