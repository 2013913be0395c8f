//! Expansion of `#[provider_spec]`, `#[generator_spec]` and `#[spec_type]`.

use crate::errors::Errors;
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

/// Errors that leave nothing to expand (`hard`) are reported with the soft ones
/// instead of the expansion; soft ones alone become `compile_error!`s next to it.
fn hard_or_soft(mut hard: Errors, soft: Errors) -> syn::Result<TokenStream> {
    if hard.is_empty() {
        Ok(soft.into_compile_error())
    } else {
        hard.combine(soft);
        hard.finish_with(TokenStream::new())
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
        errors.handle(credentials::check(field));
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
    // Nothing is generated without valid arguments, but the struct's own problems
    // are still reported with theirs, after them.
    let mut errors = Errors::default();
    let args = args::parse(args, attribute);
    if let Err(error) = &args {
        errors.push(error.clone());
    }
    let item: Item = match syn::parse2(item) {
        Ok(item) => item,
        Err(error) => return errors.bail(error),
    };
    let Item::Struct(mut item) = item else {
        return errors.bail(syn::Error::new(
            Span::call_site(),
            format!("#[{attribute}] goes on a struct with named fields (the custom resource's spec)"),
        ));
    };
    if !matches!(item.fields, Fields::Named(_)) {
        return errors.bail(syn::Error::new_spanned(
            &item.ident,
            format!("#[{attribute}] needs a struct with named fields: each becomes a field of the spec"),
        ));
    }
    // Errors that leave a valid struct behind are reported next to the full
    // expansion, so that code using the spec does not fail too; the others replace it.
    let mut soft = Errors::default();
    soft.handle(take_misplaced_eso(&mut item.attrs));
    soft.handle(lint_fields(&mut item.fields));
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &item.generics,
            format!("#[{attribute}] needs a struct without generic parameters: a custom resource's spec is one concrete type"),
        ));
    }
    if let Ok(args) = &args {
        let root = args.root_name();
        if item.ident == root {
            errors.push(syn::Error::new_spanned(
                &item.ident,
                format!(
                    "`{root}` is the name of the generated resource type; name the spec struct `{}Spec` (or choose another with `root = \"...\"`)",
                    args.kind
                ),
            ));
        }
    }
    errors.handle(check_derives(&item.attrs, attribute, &SPEC_DERIVES));
    errors.handle(check_owned(&item.fields));
    let soft = hard_or_soft(errors, soft)?;
    // Refused arguments were reported just above, with the rest.
    let args = args?;
    let root = args.root_name();
    // `args::parse` checked that the kind and the root are UpperCamelCase identifiers.
    let root_ident = syn::Ident::new(&root, Span::call_site());

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
            status = "::eso_runtime::crd::ProviderStatus",
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
    let mut errors = Errors::default();
    if !args.is_empty() {
        errors.push(syn::Error::new_spanned(args, "#[spec_type] takes no arguments"));
    }
    let item: Item = match syn::parse2(item) {
        Ok(item) => item,
        Err(error) => return errors.bail(error),
    };
    let mut soft = Errors::default();
    let (attrs, body) = match item {
        Item::Struct(mut item) => {
            errors.handle(check_derives(&item.attrs, "spec_type", &NESTED_DERIVES));
            errors.handle(check_owned(&item.fields));
            soft.handle(take_misplaced_eso(&mut item.attrs));
            soft.handle(lint_fields(&mut item.fields));
            let rename = if has_serde_rename_all(&item.attrs) || !matches!(item.fields, Fields::Named(_)) {
                quote!(#[serde(crate = "::eso_runtime::__private::serde")])
            } else {
                quote!(#[serde(rename_all = "camelCase", crate = "::eso_runtime::__private::serde")])
            };
            (rename, quote!(#item))
        }
        Item::Enum(mut item) => {
            errors.handle(check_derives(&item.attrs, "spec_type", &NESTED_DERIVES));
            soft.handle(take_misplaced_eso(&mut item.attrs));
            for variant in &mut item.variants {
                errors.handle(check_owned(&variant.fields));
                soft.handle(take_misplaced_eso(&mut variant.attrs));
                soft.handle(lint_fields(&mut variant.fields));
            }
            (
                quote!(#[serde(crate = "::eso_runtime::__private::serde")]),
                quote!(#item),
            )
        }
        other => {
            return errors.bail(syn::Error::new_spanned(
                other,
                "#[spec_type] goes on a struct or an enum used inside a spec",
            ));
        }
    };
    let soft = hard_or_soft(errors, soft)?;
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
    //! The expansions are snapshots (`src/snapshots`, reviewed like code: after a
    //! deliberate change run `INSTA_UPDATE=always cargo test -p eso-macros`, then read
    //! the diff); what a test is about is also asserted explicitly.

    use super::*;
    use crate::credentials;
    use crate::errors::messages;

    fn provider(args: TokenStream, item: TokenStream) -> TokenStream {
        expand(args, item, Role::Provider)
    }

    fn generator(args: TokenStream, item: TokenStream) -> TokenStream {
        expand(args, item, Role::Generator)
    }

    /// The expansion as a Rust file.
    fn file(out: &TokenStream) -> syn::File {
        syn::parse2(out.clone()).unwrap_or_else(|error| panic!("the expansion is not a Rust file: {error}\n{out}"))
    }

    /// The expansion, formatted for a snapshot.
    fn pretty(out: &TokenStream) -> String {
        prettyplease::unparse(&file(out))
    }

    /// The expansion's struct or enum of that name.
    fn item_named(out: &TokenStream, name: &str) -> Option<Item> {
        file(out).items.into_iter().find(|item| match item {
            Item::Struct(item) => item.ident == name,
            Item::Enum(item) => item.ident == name,
            _ => false,
        })
    }

    /// Whether any attribute of the item, its variants or its fields is `#[eso(...)]`.
    fn keeps_eso(item: &Item) -> bool {
        let eso = |attrs: &[Attribute]| attrs.iter().any(|a| a.path().is_ident("eso"));
        match item {
            Item::Struct(item) => eso(&item.attrs) || item.fields.iter().any(|f| eso(&f.attrs)),
            Item::Enum(item) => {
                eso(&item.attrs)
                    || item
                        .variants
                        .iter()
                        .any(|v| eso(&v.attrs) || v.fields.iter().any(|f| eso(&f.attrs)))
            }
            _ => false,
        }
    }

    /// Whether the expansion implements `ProviderSpec` (that is, generated the resource).
    fn implements_provider_spec(out: &TokenStream) -> bool {
        file(out).items.iter().any(|item| {
            matches!(item, Item::Impl(item) if item.trait_.as_ref().is_some_and(|(_, path, _)| {
                path.segments.last().is_some_and(|s| s.ident == "ProviderSpec")
            }))
        })
    }

    fn derive_message(name: &str, attribute: &str, derived: &[&str]) -> String {
        format!(
            "remove `{name}` from #[derive]: #[{attribute}] derives {} itself",
            derived.join(", ")
        )
    }

    const MISPLACED: &str =
        "#[eso(...)] goes on a field, e.g. #[eso(not_a_credential)] on a field that only looks like a credential";

    const BORROWED: &str = "this type holds a reference, but a spec is deserialized into owned values: \
                            use `String` for `&str`, `Vec<T>` for `&[T]`";

    /// The expansion of the documentation's example.
    #[test]
    fn doc_example() {
        let out = provider(
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
        );
        insta::assert_snapshot!("doc_example", pretty(&out));
        assert_eq!(messages(&out), Vec::<String>::new());
        let spec = item_named(&out, "VaultSpec").expect("the spec struct is kept");
        assert!(!keeps_eso(&spec), "the opt-out is removed: {out}");
    }

    #[test]
    fn every_argument() {
        let out = provider(
            quote!(kind = "Vault", shortname = "vlt", plural = "vaults", category = "eso"),
            quote!(
                pub struct VaultSpec {
                    pub server: String,
                }
            ),
        );
        insta::assert_snapshot!("provider_arguments", pretty(&out));
        let out = generator(
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
        );
        insta::assert_snapshot!("generator_arguments", pretty(&out));
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
        insta::assert_snapshot!("user_attributes", pretty(&out));
        assert_eq!(messages(&out), Vec::<String>::new());
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
        assert_eq!(
            messages(&enum_item),
            ["#[provider_spec] goes on a struct with named fields (the custom resource's spec)"]
        );
        let named_fields = "#[provider_spec] needs a struct with named fields: each becomes a field of the spec";
        let tuple = provider(
            quote!(kind = "A"),
            quote!(
                struct ASpec(String);
            ),
        );
        assert_eq!(messages(&tuple), [named_fields]);
        let unit = provider(
            quote!(kind = "A"),
            quote!(
                struct ASpec;
            ),
        );
        assert_eq!(messages(&unit), [named_fields]);
        let same = provider(
            quote!(kind = "A"),
            quote!(
                struct AResource {
                    x: u8,
                }
            ),
        );
        assert_eq!(
            messages(&same),
            [
                "`AResource` is the name of the generated resource type; name the spec struct `ASpec` \
                 (or choose another with `root = \"...\"`)"
            ]
        );
        let same_root = provider(
            quote!(kind = "A", root = "AObject"),
            quote!(
                struct AObject {
                    x: u8,
                }
            ),
        );
        assert_eq!(
            messages(&same_root),
            [
                "`AObject` is the name of the generated resource type; name the spec struct `ASpec` \
                 (or choose another with `root = \"...\"`)"
            ]
        );
        let generic_message =
            "#[provider_spec] needs a struct without generic parameters: a custom resource's spec is one concrete type";
        let generic = provider(
            quote!(kind = "A"),
            quote!(
                struct ASpec<T> {
                    x: T,
                }
            ),
        );
        assert_eq!(messages(&generic), [generic_message]);
        let derived = provider(
            quote!(kind = "A"),
            quote!(
                #[derive(Clone, serde::Deserialize, Default)]
                struct ASpec {
                    x: u8,
                }
            ),
        );
        assert_eq!(
            messages(&derived),
            [
                derive_message("Clone", "provider_spec", &SPEC_DERIVES),
                derive_message("Deserialize", "provider_spec", &SPEC_DERIVES),
            ]
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
        assert_eq!(
            messages(&many),
            [
                generic_message.to_string(),
                derive_message("Debug", "provider_spec", &SPEC_DERIVES),
                credentials::message("token"),
            ]
        );
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
        assert_eq!(messages(&borrowed), [BORROWED, BORROWED]);
        assert!(!implements_provider_spec(&borrowed), "nothing is generated: {borrowed}");
        let nested = expand_nested(
            quote!(),
            quote!(
                enum E {
                    A { x: &'static [u8] },
                }
            ),
        );
        assert_eq!(messages(&nested), [BORROWED]);
    }

    /// Errors that leave a valid struct (the credential lint, a misplaced `#[eso]`)
    /// are reported next to the full expansion, so that code using the spec reports
    /// nothing more.
    #[test]
    fn soft_errors_keep_the_expansion() {
        let credential = generator(
            quote!(kind = "A"),
            quote!(
                struct ASpec {
                    password: String,
                    token: Option<String>,
                }
            ),
        );
        insta::assert_snapshot!("credential_lint", pretty(&credential));
        assert_eq!(
            messages(&credential),
            [credentials::message("password"), credentials::message("token")]
        );
        assert!(implements_provider_spec(&credential), "{credential}");
        let misplaced = provider(
            quote!(kind = "A"),
            quote!(
                #[eso(not_a_credential)]
                struct ASpec {
                    x: u8,
                }
            ),
        );
        insta::assert_snapshot!("misplaced_eso", pretty(&misplaced));
        assert_eq!(messages(&misplaced), [MISPLACED]);
        assert!(implements_provider_spec(&misplaced), "{misplaced}");
        let spec = item_named(&misplaced, "ASpec").expect("the spec struct is kept");
        assert!(!keeps_eso(&spec), "the misplaced attribute is removed: {misplaced}");
    }

    /// Refused arguments generate nothing, but the struct's problems are reported
    /// with them, after them.
    #[test]
    fn argument_errors_come_first_with_the_rest() {
        let kind_message =
            "#[provider_spec] needs the kind of the custom resource, e.g. #[provider_spec(kind = \"Vault\")]";
        let alone = provider(
            quote!(),
            quote!(
                struct ASpec {
                    x: u8,
                }
            ),
        );
        assert_eq!(messages(&alone), [kind_message]);
        let with_the_struct = provider(
            quote!(flavour = "x"),
            quote!(
                #[derive(Clone)]
                #[eso(not_a_credential)]
                struct ASpec {
                    token: String,
                    name: &'static str,
                }
            ),
        );
        assert_eq!(
            messages(&with_the_struct),
            [
                format!(
                    "unknown argument `flavour` of #[provider_spec]; allowed: {}",
                    args::ALLOWED
                ),
                kind_message.to_string(),
                derive_message("Clone", "provider_spec", &SPEC_DERIVES),
                BORROWED.to_string(),
                MISPLACED.to_string(),
                credentials::message("token"),
            ]
        );
        assert!(!implements_provider_spec(&with_the_struct), "{with_the_struct}");
        let on_an_enum = provider(
            quote!(kind = "my-kind"),
            quote!(
                enum ASpec {}
            ),
        );
        assert_eq!(
            messages(&on_an_enum),
            [
                "kind \"my-kind\" must be UpperCamelCase letters and digits, e.g. \"Vault\"",
                "#[provider_spec] goes on a struct with named fields (the custom resource's spec)",
            ]
        );
        // The name check needs the kind, so it waits for valid arguments.
        let root_unknown = provider(
            quote!(kind = "A", version = "V1"),
            quote!(
                struct AResource {
                    x: u8,
                }
            ),
        );
        assert_eq!(
            messages(&root_unknown),
            [
                "version \"V1\" must be lowercase letters, digits and `-`, starting with a letter, \
                 e.g. \"v2alpha1\" or \"v1\""
            ]
        );
    }

    #[test]
    fn generator_spec_names_itself() {
        let out = generator(
            quote!(group = "a.io"),
            quote!(
                struct ASpec {
                    x: u8,
                }
            ),
        );
        assert_eq!(
            messages(&out),
            ["#[generator_spec] needs the kind of the custom resource, e.g. #[generator_spec(kind = \"Vault\")]"]
        );
        let out = generator(
            quote!(kind = "A"),
            quote!(
                #[derive(Debug)]
                struct ASpec {
                    x: u8,
                }
            ),
        );
        assert_eq!(
            messages(&out),
            [derive_message("Debug", "generator_spec", &SPEC_DERIVES)]
        );
        let ok = generator(
            quote!(kind = "A"),
            quote!(
                struct ASpec {
                    x: u8,
                }
            ),
        );
        insta::assert_snapshot!("generator_defaults", pretty(&ok));
        let ok = ok.to_string();
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
        insta::assert_snapshot!("user_rename_all", pretty(&out));
        assert!(!out.to_string().contains("camelCase"), "{out}");
    }

    #[test]
    fn spec_types() {
        let named = expand_nested(
            quote!(),
            quote!(
                pub struct Entry {
                    pub key_name: String,
                }
            ),
        );
        insta::assert_snapshot!("spec_type_struct", pretty(&named));
        let tuple = expand_nested(
            quote!(),
            quote!(
                pub struct Wrapper(pub String);
            ),
        );
        insta::assert_snapshot!("spec_type_tuple", pretty(&tuple));
        assert!(!tuple.to_string().contains("rename_all"), "{tuple}");
        let enumeration = expand_nested(
            quote!(),
            quote!(
                pub enum Auth {
                    Token {
                        token: String,
                    },
                    Approle {
                        role_id: String,
                    },
                    #[eso(not_a_credential)]
                    Unit,
                }
            ),
        );
        insta::assert_snapshot!("spec_type_enum", pretty(&enumeration));
        assert_eq!(
            messages(&enumeration),
            [credentials::message("token"), MISPLACED.to_string(),]
        );
        let auth = item_named(&enumeration, "Auth").expect("the enum is kept");
        assert!(!keeps_eso(&auth), "the misplaced attribute is removed: {enumeration}");
        let function = expand_nested(
            quote!(),
            quote!(
                fn f() {}
            ),
        );
        assert_eq!(
            messages(&function),
            ["#[spec_type] goes on a struct or an enum used inside a spec"]
        );
        let derived = expand_nested(
            quote!(),
            quote!(
                #[derive(Debug)]
                struct A {}
            ),
        );
        assert_eq!(
            messages(&derived),
            [derive_message("Debug", "spec_type", &NESTED_DERIVES)]
        );
        // Arguments are refused with the rest.
        let args = expand_nested(
            quote!(x),
            quote!(
                #[derive(Clone)]
                struct A {}
            ),
        );
        assert_eq!(
            messages(&args),
            [
                "#[spec_type] takes no arguments".to_string(),
                derive_message("Clone", "spec_type", &NESTED_DERIVES),
            ]
        );
        let args_on_a_function = expand_nested(
            quote!(x),
            quote!(
                fn f() {}
            ),
        );
        assert_eq!(
            messages(&args_on_a_function),
            [
                "#[spec_type] takes no arguments",
                "#[spec_type] goes on a struct or an enum used inside a spec",
            ]
        );
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
