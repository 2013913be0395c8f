//! `#[secret_store]`: capabilities inferred from the methods an impl provides.

use crate::errors::Errors;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{ImplItem, ItemImpl};

const READS: [&str; 3] = ["get_secret", "get_secret_map", "get_all_secrets"];
const WRITES: [&str; 3] = ["push_secret", "delete_secret", "secret_exists"];

/// The capability for a set of method names, or `None` when there is neither.
pub fn infer<'a>(methods: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    let methods: Vec<&str> = methods.into_iter().collect();
    let reads = methods.iter().any(|m| READS.contains(m));
    let writes = methods.iter().any(|m| WRITES.contains(m));
    match (reads, writes) {
        (true, true) => Some("ReadWrite"),
        (true, false) => Some("ReadOnly"),
        (false, true) => Some("WriteOnly"),
        (false, false) => None,
    }
}

/// `#[secret_store]`: the impl with `fn capabilities` added, or the error followed by
/// the impl as written (so that the error is the only one reported).
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    match try_expand(args, item.clone()) {
        Ok(expanded) => expanded,
        // Keep the impl as written, so the error is the only one reported.
        Err(error) => {
            let error = error.into_compile_error();
            quote!(#error #item)
        }
    }
}

fn try_expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    if !args.is_empty() {
        errors.push(syn::Error::new_spanned(args, "#[secret_store] takes no arguments"));
    }
    let mut item: ItemImpl = match syn::parse2(item) {
        Ok(item) => item,
        Err(error) => {
            return errors.bail(syn::Error::new(
                error.span(),
                "#[secret_store] goes on `impl eso_runtime::SecretStore for YourStore { … }`",
            ));
        }
    };
    let is_store = item
        .trait_
        .as_ref()
        .and_then(|(_, path, _)| path.segments.last())
        .is_some_and(|s| s.ident == "SecretStore");
    if !is_store {
        return errors.bail(syn::Error::new_spanned(
            &item.self_ty,
            "#[secret_store] goes on `impl eso_runtime::SecretStore for YourStore { … }`, not on other impl blocks",
        ));
    }
    let names: Vec<String> = item
        .items
        .iter()
        .filter_map(|i| match i {
            ImplItem::Fn(f) => Some(f.sig.ident.to_string()),
            _ => None,
        })
        .collect();
    if let Some(ImplItem::Fn(f)) = item
        .items
        .iter()
        .find(|i| matches!(i, ImplItem::Fn(f) if f.sig.ident == "capabilities"))
    {
        errors.push(syn::Error::new_spanned(
            &f.sig.ident,
            "remove `fn capabilities`: #[secret_store] infers it from the methods present \
             (get_secret, get_secret_map, get_all_secrets read; push_secret, delete_secret, secret_exists write)",
        ));
    }
    let capability = infer(names.iter().map(String::as_str));
    if capability.is_none() {
        errors.push(syn::Error::new_spanned(
            &item.self_ty,
            "this store implements none of get_secret, get_secret_map, get_all_secrets, push_secret, delete_secret, \
             secret_exists; a secret store needs at least get_secret or push_secret",
        ));
    }
    errors.finish()?;
    if let Some(capability) = capability {
        let variant = syn::Ident::new(capability, proc_macro2::Span::call_site());
        item.items.push(syn::parse_quote! {
            fn capabilities(&self) -> ::eso_runtime::Capabilities {
                ::eso_runtime::Capabilities::#variant
            }
        });
    }
    Ok(quote!(#item))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_table() {
        assert_eq!(infer(["connect", "get_secret"]), Some("ReadOnly"));
        assert_eq!(infer(["get_all_secrets"]), Some("ReadOnly"));
        assert_eq!(infer(["push_secret", "delete_secret"]), Some("WriteOnly"));
        assert_eq!(infer(["secret_exists"]), Some("WriteOnly"));
        assert_eq!(infer(["get_secret", "push_secret"]), Some("ReadWrite"));
        assert_eq!(infer(["connect", "validate"]), None);
    }

    #[test]
    fn expansion_adds_capabilities_and_refuses_the_rest() {
        let out = expand(
            quote!(),
            quote!(impl eso_runtime::SecretStore for S { async fn get_secret(&self) {} async fn push_secret(&self) {} }),
        )
        .to_string();
        assert!(out.contains("Capabilities :: ReadWrite"), "{out}");
        let wrong = expand(quote!(), quote!(impl Other for S { fn get_secret(&self) {} })).to_string();
        assert!(wrong.contains("not on other impl blocks"), "{wrong}");
        let none = expand(quote!(), quote!(impl SecretStore for S { fn connect(&self) {} })).to_string();
        assert!(none.contains("implements none of"), "{none}");
        let manual = expand(
            quote!(),
            quote!(impl SecretStore for S { fn get_secret(&self) {} fn capabilities(&self) {} }),
        )
        .to_string();
        assert!(manual.contains("remove `fn capabilities`"), "{manual}");
    }

    #[test]
    fn every_method_alone_and_together() {
        for read in READS {
            assert_eq!(infer([read]), Some("ReadOnly"), "{read}");
            for write in WRITES {
                assert_eq!(infer([read, write]), Some("ReadWrite"), "{read} {write}");
            }
        }
        for write in WRITES {
            assert_eq!(infer([write]), Some("WriteOnly"), "{write}");
        }
        assert_eq!(infer(READS.iter().chain(&WRITES).copied()), Some("ReadWrite"));
        assert_eq!(infer([]), None);
        assert_eq!(
            infer(["connect", "validate", "validate_spec", "get_secrets", "push"]),
            None
        );
    }

    #[test]
    fn the_inserted_method() {
        let out = expand(
            quote!(),
            quote!(
                impl<T: Send> ::eso_runtime::SecretStore for S<T> {
                    type Spec = X;
                    async fn push_secret(&self) {}
                }
            ),
        );
        let expected = quote!(
            impl<T: Send> ::eso_runtime::SecretStore for S<T> {
                type Spec = X;
                async fn push_secret(&self) {}
                fn capabilities(&self) -> ::eso_runtime::Capabilities {
                    ::eso_runtime::Capabilities::WriteOnly
                }
            }
        );
        assert_eq!(out.to_string(), expected.to_string());
    }

    #[test]
    fn every_problem_at_once() {
        let out = expand(
            quote!(read_only),
            quote!(impl SecretStore for S { fn connect(&self) {} fn capabilities(&self) {} }),
        );
        assert_eq!(
            crate::errors::messages(&out),
            [
                "#[secret_store] takes no arguments",
                "remove `fn capabilities`: #[secret_store] infers it from the methods present \
                 (get_secret, get_secret_map, get_all_secrets read; push_secret, delete_secret, secret_exists write)",
                "this store implements none of get_secret, get_secret_map, get_all_secrets, push_secret, \
                 delete_secret, secret_exists; a secret store needs at least get_secret or push_secret",
            ]
        );
        let out = expand(quote!(read_only), quote!(impl Other for S {}));
        assert_eq!(
            crate::errors::messages(&out),
            [
                "#[secret_store] takes no arguments",
                "#[secret_store] goes on `impl eso_runtime::SecretStore for YourStore { … }`, not on other impl blocks",
            ]
        );
    }

    #[test]
    fn misplaced() {
        let on_struct = expand(
            quote!(),
            quote!(
                struct S;
            ),
        )
        .to_string();
        assert!(
            on_struct.contains("#[secret_store] goes on `impl eso_runtime::SecretStore for YourStore"),
            "{on_struct}"
        );
        assert!(on_struct.contains("struct S"), "the item is kept: {on_struct}");
        let on_generator = expand(
            quote!(),
            quote!(impl eso_runtime::Generator for G { fn generate(&self) {} }),
        )
        .to_string();
        assert!(on_generator.contains("not on other impl blocks"), "{on_generator}");
        let with_args = expand(
            quote!(read_only),
            quote!(impl SecretStore for S { fn get_secret(&self) {} }),
        )
        .to_string();
        assert!(with_args.contains("takes no arguments"), "{with_args}");
    }
}
