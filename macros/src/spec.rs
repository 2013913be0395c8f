//! Expansion of `#[provider_spec]`, `#[generator_spec]` and `#[spec_type]`.

use crate::{args, credentials};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote};
use syn::{Attribute, Fields, Item};

/// Which macro is expanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `#[provider_spec]`.
    Provider,
    /// `#[generator_spec]`.
    Generator,
}

impl Role {
    fn attribute(self) -> &'static str {
        match self {
            Role::Provider => "provider_spec",
            Role::Generator => "generator_spec",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Role::Provider => "a secret store provider",
            Role::Generator => "a generator",
        }
    }
}

/// The derives every expansion adds; the user may not add them again.
const SPEC_DERIVES: [&str; 6] = [
    "CustomResource",
    "Serialize",
    "Deserialize",
    "JsonSchema",
    "Clone",
    "Debug",
];

/// Collects errors so that one compilation reports all of them.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn extend(&mut self, result: syn::Result<()>) {
        if let Err(error) = result {
            self.push(error);
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }

    /// Errors that leave nothing to expand (`self`) are reported with the soft ones
    /// instead of the expansion; soft ones alone become `compile_error!`s next to it.
    fn or_soft(self, soft: Errors) -> syn::Result<TokenStream> {
        match (self.0, soft.0) {
            (Some(mut hard), soft) => {
                if let Some(soft) = soft {
                    hard.combine(soft);
                }
                Err(hard)
            }
            (None, soft) => Ok(soft.map(syn::Error::into_compile_error).unwrap_or_default()),
        }
    }
}

fn has_serde_rename_all(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("serde") && a.meta.to_token_stream().to_string().contains("rename_all"))
}

/// Refuses derives the expansion adds itself, which would otherwise be reported
/// as conflicting implementations far from their cause.
fn check_derives(attrs: &[Attribute], attribute: &str, derived: &[&str]) -> syn::Result<()> {
    let mut errors = Errors::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let paths = attr.parse_args_with(syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated);
        let Ok(paths) = paths else { continue };
        for path in paths {
            let Some(last) = path.segments.last() else { continue };
            if derived.iter().any(|d| last.ident == d) {
                errors.push(syn::Error::new_spanned(
                    &path,
                    format!(
                        "remove `{}` from #[derive]: #[{attribute}] derives {} itself",
                        last.ident,
                        derived.join(", ")
                    ),
                ));
            }
        }
    }
    errors.finish()
}

/// `#[eso(...)]` belongs on fields; anywhere else it is refused (and removed, so that
/// the compiler does not also report an unknown attribute).
fn take_misplaced_eso(attrs: &mut Vec<Attribute>) -> syn::Result<()> {
    let mut errors = Errors::default();
    attrs.retain(|attr| {
        if !attr.path().is_ident("eso") {
            return true;
        }
        errors.push(syn::Error::new_spanned(
            attr,
            "#[eso(...)] goes on a field, e.g. #[eso(not_a_credential)] on a field that only looks like a credential",
        ));
        false
    });
    errors.finish()
}

/// Whether a type holds a reference (`&str`, `Option<&[u8]>`, …), which a spec
/// deserialized from an object it outlives cannot. (`Cow<'static, str>` is fine:
/// serde deserializes it owned.)
fn borrows(ty: &syn::Type) -> bool {
    use syn::{GenericArgument, PathArguments, Type};
    match ty {
        Type::Reference(_) => true,
        Type::Group(group) => borrows(&group.elem),
        Type::Paren(paren) => borrows(&paren.elem),
        Type::Array(array) => borrows(&array.elem),
        Type::Slice(slice) => borrows(&slice.elem),
        Type::Tuple(tuple) => tuple.elems.iter().any(borrows),
        Type::Path(path) => path.path.segments.iter().any(|segment| match &segment.arguments {
            PathArguments::AngleBracketed(args) => args.args.iter().any(|arg| match arg {
                GenericArgument::Type(ty) => borrows(ty),
                _ => false,
            }),
            _ => false,
        }),
        _ => false,
    }
}

/// Refuses borrowed field types: the runtime deserializes specs into owned values
/// (`DeserializeOwned`), and serde's errors about it are far from the cause.
fn check_owned(fields: &Fields) -> syn::Result<()> {
    let mut errors = Errors::default();
    for field in fields.iter().filter(|f| borrows(&f.ty)) {
        errors.push(syn::Error::new_spanned(
            &field.ty,
            "this type holds a reference, but a spec is deserialized into owned values: \
             use `String` for `&str`, `Vec<T>` for `&[T]`",
        ));
    }
    errors.finish()
}

/// Runs the credential lint on every field (removing `#[eso(...)]`), collecting all errors.
fn lint_fields(fields: &mut Fields) -> syn::Result<()> {
    let mut errors = Errors::default();
    for field in fields.iter_mut() {
        errors.extend(credentials::check(field));
    }
    errors.finish()
}

/// `FakeGenerator` → `fake_generator`, `HTTPAuth` → `http_auth`, `OAuth2` → `o_auth2`.
pub fn snake(kind: &str) -> String {
    let chars: Vec<char> = kind.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let previous = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if previous.is_ascii_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_ascii_uppercase() && next_is_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// `#[provider_spec]` / `#[generator_spec]`: the expansion, or the errors as `compile_error!`s.
pub fn expand(args: TokenStream, item: TokenStream, role: Role) -> TokenStream {
    try_expand(args, item, role).unwrap_or_else(syn::Error::into_compile_error)
}

fn try_expand(args: TokenStream, item: TokenStream, role: Role) -> syn::Result<TokenStream> {
    let attribute = role.attribute();
    let args = args::parse(args, attribute)?;
    let item: Item = syn::parse2(item)?;
    let Item::Struct(mut item) = item else {
        return Err(syn::Error::new(
            Span::call_site(),
            format!("#[{attribute}] goes on a struct with named fields (the custom resource's spec)"),
        ));
    };
    if !matches!(item.fields, Fields::Named(_)) {
        return Err(syn::Error::new_spanned(
            &item.ident,
            format!("#[{attribute}] needs a struct with named fields: each becomes a field of the spec"),
        ));
    }
    let root = args.root_name();
    // `args::parse` checked that the kind and the root are UpperCamelCase identifiers.
    let root_ident = syn::Ident::new(&root, Span::call_site());
    // Errors that leave a valid struct behind are reported next to the full
    // expansion, so that code using the spec does not fail too; the others replace it.
    let mut soft = Errors::default();
    soft.extend(take_misplaced_eso(&mut item.attrs));
    soft.extend(lint_fields(&mut item.fields));
    let mut errors = Errors::default();
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &item.generics,
            format!("#[{attribute}] needs a struct without generic parameters: a custom resource's spec is one concrete type"),
        ));
    }
    if item.ident == root_ident {
        errors.push(syn::Error::new_spanned(
            &item.ident,
            format!(
                "`{root}` is the name of the generated resource type; name the spec struct `{}Spec` (or choose another with `root = \"...\"`)",
                args.kind
            ),
        ));
    }
    errors.extend(check_derives(&item.attrs, attribute, &SPEC_DERIVES));
    errors.extend(check_owned(&item.fields));
    let soft = errors.or_soft(soft)?;

    let spec_ident = &item.ident;
    let (group, version, kind) = (&args.group, &args.version, &args.kind);
    let plural = args.plural.iter().map(|p| quote!(plural = #p,));
    let shortnames = args.shortnames.iter().map(|s| quote!(shortname = #s,));
    let categories = args.categories.iter().map(|c| quote!(category = #c,));
    let doc = args.doc.clone().unwrap_or_else(|| {
        format!(
            " A `{kind}` object (`{group}/{version}`): the configuration of {}, with its spec ([`{spec_ident}`]) and the status the provider reports.",
            role.what()
        )
    });
    let rename = if has_serde_rename_all(&item.attrs) {
        quote!(#[serde(crate = "::eso_runtime::__private::serde")])
    } else {
        quote!(#[serde(rename_all = "camelCase", crate = "::eso_runtime::__private::serde")])
    };
    let snake_kind = snake(kind);
    let test_name = format_ident!("{}_crd_is_structural", snake_kind);
    let module = format_ident!("__eso_{}_crd_check", snake_kind);

    Ok(quote! {
        #soft

        #[derive(
            ::eso_runtime::__private::CustomResource,
            ::eso_runtime::__private::serde::Serialize,
            ::eso_runtime::__private::serde::Deserialize,
            ::eso_runtime::__private::schemars::JsonSchema,
            ::core::clone::Clone,
            ::core::fmt::Debug
        )]
        #[kube(
            group = #group,
            version = #version,
            kind = #kind,
            root = #root,
            doc = #doc,
            namespaced,
            status = "::eso_runtime::ProviderStatus",
            schema = "disabled",
            #(#plural)*
            #(#shortnames)*
            #(#categories)*
            printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
            printcolumn(name = "Reason", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].reason"),
            printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
            crates(
                kube_core = "::eso_runtime::__private::kube_core",
                k8s_openapi = "::eso_runtime::__private::k8s_openapi",
                schemars = "::eso_runtime::__private::schemars",
                serde = "::eso_runtime::__private::serde",
                serde_json = "::eso_runtime::__private::serde_json"
            )
        )]
        #rename
        #[schemars(crate = "::eso_runtime::__private::schemars")]
        #item

        impl ::eso_runtime::ProviderSpec for #spec_ident {
            const GVK: ::eso_runtime::Gvk = ::eso_runtime::Gvk { group: #group, version: #version, kind: #kind };

            fn crd() -> ::core::option::Option<::eso_runtime::Result<::eso_runtime::crd::CustomResourceDefinition>> {
                ::core::option::Option::Some(::eso_runtime::crd::build::<#root_ident, #spec_ident>())
            }
        }

        #[cfg(test)]
        mod #module {
            /// The API server accepts only structural schemas; find out at test time.
            #[test]
            fn #test_name() {
                if let ::core::result::Result::Err(error) = ::eso_runtime::crd::build::<super::#root_ident, super::#spec_ident>() {
                    ::core::panic!("{}", error);
                }
            }
        }
    })
}

/// `#[spec_type]`: the expansion, or the errors as `compile_error!`s.
pub fn expand_nested(args: TokenStream, item: TokenStream) -> TokenStream {
    try_expand_nested(args, item).unwrap_or_else(syn::Error::into_compile_error)
}

const NESTED_DERIVES: [&str; 5] = ["Serialize", "Deserialize", "JsonSchema", "Clone", "Debug"];

fn try_expand_nested(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    if !args.is_empty() {
        return Err(syn::Error::new_spanned(args, "#[spec_type] takes no arguments"));
    }
    let item: Item = syn::parse2(item)?;
    let mut errors = Errors::default();
    let mut soft = Errors::default();
    let (attrs, body) = match item {
        Item::Struct(mut item) => {
            errors.extend(check_derives(&item.attrs, "spec_type", &NESTED_DERIVES));
            errors.extend(check_owned(&item.fields));
            soft.extend(take_misplaced_eso(&mut item.attrs));
            soft.extend(lint_fields(&mut item.fields));
            let rename = if has_serde_rename_all(&item.attrs) || !matches!(item.fields, Fields::Named(_)) {
                quote!(#[serde(crate = "::eso_runtime::__private::serde")])
            } else {
                quote!(#[serde(rename_all = "camelCase", crate = "::eso_runtime::__private::serde")])
            };
            (rename, quote!(#item))
        }
        Item::Enum(mut item) => {
            errors.extend(check_derives(&item.attrs, "spec_type", &NESTED_DERIVES));
            soft.extend(take_misplaced_eso(&mut item.attrs));
            for variant in &mut item.variants {
                errors.extend(check_owned(&variant.fields));
                soft.extend(take_misplaced_eso(&mut variant.attrs));
                soft.extend(lint_fields(&mut variant.fields));
            }
            (
                quote!(#[serde(crate = "::eso_runtime::__private::serde")]),
                quote!(#item),
            )
        }
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "#[spec_type] goes on a struct or an enum used inside a spec",
            ));
        }
    };
    let soft = errors.or_soft(soft)?;
    Ok(quote! {
        #soft

        #[derive(
            ::eso_runtime::__private::serde::Serialize,
            ::eso_runtime::__private::serde::Deserialize,
            ::eso_runtime::__private::schemars::JsonSchema,
            ::core::clone::Clone,
            ::core::fmt::Debug
        )]
        #attrs
        #[schemars(crate = "::eso_runtime::__private::schemars")]
        #body
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(args: TokenStream, item: TokenStream) -> String {
        expand(args, item, Role::Provider).to_string()
    }

    /// Prints the expansion of the documentation's example; see it with
    /// `cargo test -p eso-macros print_expansion -- --nocapture`.
    #[test]
    fn print_expansion() {
        let out = expand(
            quote!(kind = "Vault", shortname = "vlt", category = "external-secrets"),
            quote!(
                /// Reads secrets from a Vault KV v2 mount.
                pub struct VaultSpec {
                    /// Vault address, e.g. https://vault.example:8200
                    pub server: String,
                    /// KV v2 mount path.
                    #[serde(default = "default_mount")]
                    pub mount: String,
                    /// Token to authenticate with.
                    pub token_secret_ref: eso_runtime::SecretKeySelector,
                    /// Where the token is mounted; not the token itself.
                    #[eso(not_a_credential)]
                    pub token_path: Option<String>,
                }
            ),
            Role::Provider,
        );
        println!("{out}");
        let out = out.to_string();
        assert!(!out.contains("eso ("), "the opt-out is removed: {out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn expansion_carries_the_kind_and_the_crd() {
        let out = provider(
            quote!(kind = "Vault", shortname = "vlt", plural = "vaults", category = "eso"),
            quote!(
                pub struct VaultSpec {
                    pub server: String,
                }
            ),
        );
        for expected in [
            "kind = \"Vault\"",
            "group = \"provider.external-secrets.io\"",
            "version = \"v2alpha1\"",
            "shortname = \"vlt\"",
            "plural = \"vaults\"",
            "category = \"eso\"",
            "namespaced",
            "schema = \"disabled\"",
            "status = \"::eso_runtime::ProviderStatus\"",
            "printcolumn (name = \"Ready\"",
            "printcolumn (name = \"Reason\"",
            "printcolumn (name = \"Age\" , type_ = \"date\"",
            "kube_core = \"::eso_runtime::__private::kube_core\"",
            "rename_all = \"camelCase\" , crate = \"::eso_runtime::__private::serde\"",
            "schemars (crate = \"::eso_runtime::__private::schemars\")",
            "impl :: eso_runtime :: ProviderSpec for VaultSpec",
            "kind : \"Vault\"",
            "crd :: build :: < VaultResource , VaultSpec >",
            "root = \"VaultResource\"",
            "mod __eso_vault_crd_check",
            "fn vault_crd_is_structural",
            "A `Vault` object (`provider.external-secrets.io/v2alpha1`): the configuration of a secret store provider",
        ] {
            assert!(out.contains(expected), "missing {expected} in {out}");
        }
        let generator = expand(
            quote!(
                kind = "Password",
                group = "generators.example.com",
                version = "v1",
                root = "PasswordObject",
                doc = "Makes passwords."
            ),
            quote!(
                pub struct PasswordSpec {
                    pub length: u8,
                }
            ),
            Role::Generator,
        )
        .to_string();
        for expected in [
            "group = \"generators.example.com\"",
            "version = \"v1\"",
            "root = \"PasswordObject\"",
            "doc = \"Makes passwords.\"",
            "crd :: build :: < PasswordObject , PasswordSpec >",
        ] {
            assert!(generator.contains(expected), "missing {expected} in {generator}");
        }
    }

    #[test]
    fn user_attributes_pass_through() {
        let out = provider(
            quote!(kind = "A"),
            quote!(
                /// The spec.
                #[derive(Default, PartialEq)]
                #[serde(deny_unknown_fields)]
                pub struct ASpec {
                    /// Documented.
                    #[serde(default = "default_x", skip_serializing_if = "Option::is_none")]
                    #[schemars(length(min = 1))]
                    #[x_kube(validation = "self.size() > 0")]
                    pub x: Option<String>,
                }
            ),
        );
        for expected in [
            "# [doc = r\" The spec.\"]",
            "# [derive (Default , PartialEq)]",
            "# [serde (deny_unknown_fields)]",
            "# [serde (default = \"default_x\" , skip_serializing_if = \"Option::is_none\")]",
            "# [schemars (length (min = 1))]",
            "# [x_kube (validation = \"self.size() > 0\")]",
        ] {
            assert!(out.contains(expected), "missing {expected} in {out}");
        }
    }

    #[test]
    fn refusals() {
        let enum_item = provider(
            quote!(kind = "A"),
            quote!(
                enum ASpec {
                    X,
                }
            ),
        );
        assert!(
            enum_item.contains("#[provider_spec] goes on a struct with named fields"),
            "{enum_item}"
        );
        let tuple = provider(
            quote!(kind = "A"),
            quote!(
                struct ASpec(String);
            ),
        );
        assert!(tuple.contains("needs a struct with named fields"), "{tuple}");
        let unit = provider(
            quote!(kind = "A"),
            quote!(
                struct ASpec;
            ),
        );
        assert!(unit.contains("needs a struct with named fields"), "{unit}");
        let same = provider(
            quote!(kind = "A"),
            quote!(
                struct AResource {
                    x: u8,
                }
            ),
        );
        assert!(same.contains("name the spec struct `ASpec`"), "{same}");
        let same_root = provider(
            quote!(kind = "A", root = "AObject"),
            quote!(
                struct AObject {
                    x: u8,
                }
            ),
        );
        assert!(
            same_root.contains("`AObject` is the name of the generated resource type"),
            "{same_root}"
        );
        let generic = provider(
            quote!(kind = "A"),
            quote!(
                struct ASpec<T> {
                    x: T,
                }
            ),
        );
        assert!(generic.contains("without generic parameters"), "{generic}");
        let derived = provider(
            quote!(kind = "A"),
            quote!(
                #[derive(Clone, serde::Deserialize, Default)]
                struct ASpec {
                    x: u8,
                }
            ),
        );
        assert!(derived.contains("remove `Clone` from #[derive]"), "{derived}");
        assert!(derived.contains("remove `Deserialize` from #[derive]"), "{derived}");
        assert!(!derived.contains("remove `Default`"), "{derived}");
        let eso_on_struct = provider(
            quote!(kind = "A"),
            quote!(
                #[eso(not_a_credential)]
                struct ASpec {
                    x: u8,
                }
            ),
        );
        assert!(eso_on_struct.contains("#[eso(...)] goes on a field"), "{eso_on_struct}");
        let credential = expand(
            quote!(kind = "A"),
            quote!(
                struct ASpec {
                    password: String,
                    token: Option<String>,
                }
            ),
            Role::Generator,
        )
        .to_string();
        assert!(
            credential.contains("field `password`") && credential.contains("field `token`"),
            "{credential}"
        );
        // The lint leaves a valid struct, so the expansion is kept next to the errors and
        // code using the spec reports nothing more.
        assert!(
            credential.contains("impl :: eso_runtime :: ProviderSpec for ASpec"),
            "{credential}"
        );
        let misplaced = provider(
            quote!(kind = "A"),
            quote!(
                #[eso(not_a_credential)]
                struct ASpec {
                    x: u8,
                }
            ),
        );
        assert!(
            misplaced.contains("impl :: eso_runtime :: ProviderSpec for ASpec"),
            "{misplaced}"
        );
        assert!(
            !misplaced.contains("# [eso"),
            "the misplaced attribute is removed: {misplaced}"
        );
        // Every problem of the struct at once.
        let many = provider(
            quote!(kind = "A"),
            quote!(
                #[derive(Debug)]
                struct ASpec<T> {
                    token: String,
                    x: T,
                }
            ),
        );
        for expected in ["remove `Debug`", "without generic parameters", "field `token`"] {
            assert!(many.contains(expected), "missing {expected} in {many}");
        }
        let borrowed = provider(
            quote!(kind = "A"),
            quote!(
                struct ASpec {
                    name: &'static str,
                    names: Option<Vec<&'static str>>,
                    cow: Cow<'static, str>,
                    n: u8,
                }
            ),
        );
        assert_eq!(borrowed.matches("this type holds a reference").count(), 2, "{borrowed}");
        assert!(
            !borrowed.contains("impl :: eso_runtime"),
            "nothing is generated: {borrowed}"
        );
        let nested = expand_nested(
            quote!(),
            quote!(
                enum E {
                    A { x: &'static [u8] },
                }
            ),
        )
        .to_string();
        assert!(nested.contains("this type holds a reference"), "{nested}");
        // Argument errors come first, alone.
        let args = provider(
            quote!(),
            quote!(
                struct ASpec {
                    x: u8,
                }
            ),
        );
        assert!(args.contains("needs the kind"), "{args}");
    }

    #[test]
    fn generator_spec_names_itself() {
        let out = expand(
            quote!(group = "a.io"),
            quote!(
                struct ASpec {
                    x: u8,
                }
            ),
            Role::Generator,
        )
        .to_string();
        assert!(out.contains("#[generator_spec] needs the kind"), "{out}");
        let ok = expand(
            quote!(kind = "A"),
            quote!(
                struct ASpec {
                    x: u8,
                }
            ),
            Role::Generator,
        )
        .to_string();
        assert!(ok.contains("the configuration of a generator"), "{ok}");
        assert!(ok.contains("group = \"provider.external-secrets.io\""), "{ok}");
    }

    #[test]
    fn user_rename_all_is_respected() {
        let out = provider(
            quote!(kind = "A"),
            quote!(
                #[serde(rename_all = "snake_case")]
                struct ASpec {
                    x: u8,
                }
            ),
        );
        assert!(!out.contains("camelCase"), "{out}");
    }

    #[test]
    fn spec_types() {
        let out = expand_nested(
            quote!(),
            quote!(
                pub struct Entry {
                    pub key_name: String,
                }
            ),
        )
        .to_string();
        assert!(out.contains("rename_all = \"camelCase\""), "{out}");
        assert!(
            out.contains(":: eso_runtime :: __private :: schemars :: JsonSchema"),
            "{out}"
        );
        assert!(!out.contains("CustomResource"), "{out}");
        let tuple = expand_nested(
            quote!(),
            quote!(
                pub struct Wrapper(pub String);
            ),
        )
        .to_string();
        assert!(!tuple.contains("rename_all"), "{tuple}");
        let enumeration = expand_nested(
            quote!(),
            quote!(
                pub enum Auth {
                    Token { token: String },
                    Approle { role_id: String },
                }
            ),
        )
        .to_string();
        assert!(
            enumeration.contains("field `token` looks like a credential"),
            "{enumeration}"
        );
        let args = expand_nested(
            quote!(x),
            quote!(
                struct A {}
            ),
        )
        .to_string();
        assert!(args.contains("takes no arguments"), "{args}");
        let function = expand_nested(
            quote!(),
            quote!(
                fn f() {}
            ),
        )
        .to_string();
        assert!(function.contains("goes on a struct or an enum"), "{function}");
        let derived = expand_nested(
            quote!(),
            quote!(
                #[derive(Debug)]
                struct A {}
            ),
        )
        .to_string();
        assert!(
            derived.contains("remove `Debug` from #[derive]: #[spec_type] derives"),
            "{derived}"
        );
        let eso_variant = expand_nested(
            quote!(),
            quote!(
                enum E {
                    #[eso(not_a_credential)]
                    A,
                }
            ),
        )
        .to_string();
        assert!(eso_variant.contains("goes on a field"), "{eso_variant}");
    }

    #[test]
    fn snake_case_kinds() {
        for (kind, snake_kind) in [
            ("FakeGenerator", "fake_generator"),
            ("Vault", "vault"),
            ("HTTPAuth", "http_auth"),
            ("AWSSecretsManager", "aws_secrets_manager"),
            ("OAuth2", "o_auth2"),
            ("Kv2Store", "kv2_store"),
            ("ACR", "acr"),
        ] {
            assert_eq!(snake(kind), snake_kind, "{kind}");
        }
    }
}
