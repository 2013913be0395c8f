//! Expansion of `#[provider_spec]`, `#[generator_spec]` and `#[spec_type]`.

use crate::{args, credentials};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Fields, Item};

/// Which macro is expanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Provider,
    Generator,
}

impl Role {
    fn attribute(self) -> &'static str {
        match self {
            Role::Provider => "provider_spec",
            Role::Generator => "generator_spec",
        }
    }
}

fn has_serde_rename_all(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("serde") && a.meta.to_token_stream_string().contains("rename_all"))
}

trait TokensText {
    fn to_token_stream_string(&self) -> String;
}

impl TokensText for syn::Meta {
    fn to_token_stream_string(&self) -> String {
        quote!(#self).to_string()
    }
}

/// Runs the credential lint on every named field, collecting all errors.
fn lint_fields(fields: &mut Fields) -> syn::Result<()> {
    let mut errors: Option<syn::Error> = None;
    for field in fields.iter_mut() {
        if let Err(error) = credentials::check(field) {
            match &mut errors {
                Some(all) => all.combine(error),
                None => errors = Some(error),
            }
        }
    }
    errors.map_or(Ok(()), Err)
}

fn snake(kind: &str) -> String {
    let mut out = String::new();
    for (i, c) in kind.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

pub fn expand(args: TokenStream, item: TokenStream, role: Role) -> TokenStream {
    try_expand(args, item, role).unwrap_or_else(syn::Error::into_compile_error)
}

fn try_expand(args: TokenStream, item: TokenStream, role: Role) -> syn::Result<TokenStream> {
    let attribute = role.attribute();
    let args = args::parse(args, attribute)?;
    let item: Item = syn::parse2(item)?;
    let Item::Struct(mut item) = item else {
        return Err(syn::Error::new(
            proc_macro2::Span::call_site(),
            format!("#[{attribute}] goes on a struct with named fields (the custom resource's spec)"),
        ));
    };
    if !matches!(item.fields, Fields::Named(_)) {
        return Err(syn::Error::new_spanned(
            &item.ident,
            format!("#[{attribute}] needs a struct with named fields: each becomes a field of the spec"),
        ));
    }
    let root = args.root.clone().unwrap_or_else(|| format!("{}Resource", args.kind));
    let kind_ident = format_ident!("{}", root);
    if item.ident == kind_ident {
        return Err(syn::Error::new_spanned(
            &item.ident,
            format!(
                "`{root}` is the name of the generated resource type; name the spec struct `{}Spec`",
                args.kind
            ),
        ));
    }
    lint_fields(&mut item.fields)?;

    let spec_ident = &item.ident;
    let (group, version, kind) = (&args.group, &args.version, &args.kind);
    let plural = args.plural.iter().map(|p| quote!(plural = #p,));
    let shortnames = args.shortnames.iter().map(|s| quote!(shortname = #s,));
    let categories = args.categories.iter().map(|c| quote!(category = #c,));
    let rename = if has_serde_rename_all(&item.attrs) {
        quote!(#[serde(crate = "::eso_runtime::__private::serde")])
    } else {
        quote!(#[serde(rename_all = "camelCase", crate = "::eso_runtime::__private::serde")])
    };
    let test_name = format_ident!("{}_crd_is_structural", snake(kind));
    let module = format_ident!("__eso_{}_crd_check", snake(kind));
    let role_doc = match role {
        Role::Provider => "provider",
        Role::Generator => "generator",
    };
    let _ = role_doc;

    Ok(quote! {
        #[derive(
            ::eso_runtime::__private::CustomResource,
            ::eso_runtime::__private::serde::Serialize,
            ::eso_runtime::__private::serde::Deserialize,
            ::eso_runtime::__private::schemars::JsonSchema,
            Clone,
            Debug
        )]
        #[kube(
            group = #group,
            version = #version,
            kind = #kind,
            root = #root,
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
                ::core::option::Option::Some(::eso_runtime::crd::build::<#kind_ident, #spec_ident>())
            }
        }

        #[cfg(test)]
        mod #module {
            /// The API server accepts only structural schemas; find out at test time.
            #[test]
            fn #test_name() {
                if let ::core::result::Result::Err(error) = ::eso_runtime::crd::build::<super::#kind_ident, super::#spec_ident>() {
                    panic!("{error}");
                }
            }
        }
    })
}

pub fn expand_nested(args: TokenStream, item: TokenStream) -> TokenStream {
    try_expand_nested(args, item).unwrap_or_else(syn::Error::into_compile_error)
}

fn try_expand_nested(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    if !args.is_empty() {
        return Err(syn::Error::new_spanned(args, "#[spec_type] takes no arguments"));
    }
    let item: Item = syn::parse2(item)?;
    let (attrs, body) = match item {
        Item::Struct(mut item) => {
            lint_fields(&mut item.fields)?;
            let rename = if has_serde_rename_all(&item.attrs) || !matches!(item.fields, Fields::Named(_)) {
                quote!(#[serde(crate = "::eso_runtime::__private::serde")])
            } else {
                quote!(#[serde(rename_all = "camelCase", crate = "::eso_runtime::__private::serde")])
            };
            (rename, quote!(#item))
        }
        Item::Enum(mut item) => {
            let mut errors: Option<syn::Error> = None;
            for variant in &mut item.variants {
                if let Err(error) = lint_fields(&mut variant.fields) {
                    match &mut errors {
                        Some(all) => all.combine(error),
                        None => errors = Some(error),
                    }
                }
            }
            if let Some(errors) = errors {
                return Err(errors);
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
    Ok(quote! {
        #[derive(
            ::eso_runtime::__private::serde::Serialize,
            ::eso_runtime::__private::serde::Deserialize,
            ::eso_runtime::__private::schemars::JsonSchema,
            Clone,
            Debug
        )]
        #attrs
        #[schemars(crate = "::eso_runtime::__private::schemars")]
        #body
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_carries_the_kind_and_the_crd() {
        let out = expand(
            quote!(kind = "Vault", shortname = "vlt"),
            quote!(
                pub struct VaultSpec {
                    pub server: String,
                }
            ),
            Role::Provider,
        )
        .to_string();
        for expected in [
            "kind = \"Vault\"",
            "group = \"provider.external-secrets.io\"",
            "shortname = \"vlt\"",
            "schema = \"disabled\"",
            "status = \"::eso_runtime::ProviderStatus\"",
            "rename_all = \"camelCase\"",
            "impl :: eso_runtime :: ProviderSpec for VaultSpec",
            "crd :: build :: < VaultResource , VaultSpec >",
            "root = \"VaultResource\"",
            "fn vault_crd_is_structural",
        ] {
            assert!(out.contains(expected), "missing {expected} in {out}");
        }
    }

    #[test]
    fn refusals() {
        let enum_item = expand(
            quote!(kind = "A"),
            quote!(
                enum ASpec {
                    X,
                }
            ),
            Role::Provider,
        )
        .to_string();
        assert!(enum_item.contains("goes on a struct with named fields"), "{enum_item}");
        let tuple = expand(
            quote!(kind = "A"),
            quote!(
                struct ASpec(String);
            ),
            Role::Provider,
        )
        .to_string();
        assert!(tuple.contains("needs a struct with named fields"), "{tuple}");
        let same = expand(
            quote!(kind = "A"),
            quote!(
                struct AResource {
                    x: u8,
                }
            ),
            Role::Provider,
        )
        .to_string();
        assert!(same.contains("name the spec struct `ASpec`"), "{same}");
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
    }

    #[test]
    fn user_rename_all_is_respected() {
        let out = expand(
            quote!(kind = "A"),
            quote!(
                #[serde(rename_all = "snake_case")]
                struct ASpec {
                    x: u8,
                }
            ),
            Role::Provider,
        )
        .to_string();
        assert!(!out.contains("camelCase"), "{out}");
    }

    #[test]
    fn snake_case_kinds() {
        assert_eq!(snake("FakeGenerator"), "fake_generator");
        assert_eq!(snake("Vault"), "vault");
    }
}
