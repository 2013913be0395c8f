//! Parsing `key = "value"` arguments.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, MetaNameValue, Token};

/// The arguments of `#[provider_spec(...)]` / `#[generator_spec(...)]`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SpecArgs {
    pub kind: String,
    pub group: String,
    pub version: String,
    pub plural: Option<String>,
    pub shortnames: Vec<String>,
    pub categories: Vec<String>,
    pub root: Option<String>,
}

const ALLOWED: &str = "kind, group, version, plural, shortname, category, root";

pub fn parse(args: TokenStream, attribute: &str) -> syn::Result<SpecArgs> {
    let pairs = Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(args)?;
    let mut parsed = SpecArgs {
        group: "provider.external-secrets.io".into(),
        version: "v2alpha1".into(),
        ..Default::default()
    };
    let mut kind = None;
    for pair in pairs {
        let key = pair.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
        let Expr::Lit(ExprLit {
            lit: Lit::Str(value), ..
        }) = &pair.value
        else {
            return Err(syn::Error::new_spanned(
                &pair.value,
                format!("`{key}` takes a string, e.g. {key} = \"...\""),
            ));
        };
        let value = value.value();
        if value.is_empty() {
            return Err(syn::Error::new_spanned(
                &pair.value,
                format!("`{key}` must not be empty"),
            ));
        }
        match key.as_str() {
            "kind" => kind = Some(value),
            "group" => parsed.group = value,
            "version" => parsed.version = value,
            "plural" => parsed.plural = Some(value),
            "shortname" => parsed.shortnames.push(value),
            "category" => parsed.categories.push(value),
            "root" => parsed.root = Some(value),
            _ => {
                return Err(syn::Error::new_spanned(
                    &pair.path,
                    format!("unknown argument `{key}` of #[{attribute}]; allowed: {ALLOWED}"),
                ));
            }
        }
    }
    parsed.kind = kind.ok_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            format!("#[{attribute}] needs the kind of the custom resource, e.g. #[{attribute}(kind = \"Vault\")]"),
        )
    })?;
    if !parsed.kind.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        || !parsed.kind.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(syn::Error::new(
            Span::call_site(),
            format!(
                "kind {:?} must be UpperCamelCase letters and digits, e.g. \"Vault\"",
                parsed.kind
            ),
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn defaults_and_repeats() {
        let args = parse(
            quote!(kind = "Vault", shortname = "v", shortname = "vlt"),
            "provider_spec",
        )
        .unwrap();
        assert_eq!(args.kind, "Vault");
        assert_eq!(args.group, "provider.external-secrets.io");
        assert_eq!(args.version, "v2alpha1");
        assert_eq!(args.shortnames, vec!["v", "vlt"]);
    }

    #[test]
    fn errors_name_the_argument() {
        let missing = parse(quote!(group = "a.io"), "provider_spec").unwrap_err().to_string();
        assert!(missing.contains("needs the kind"), "{missing}");
        let unknown = parse(quote!(kind = "A", flavour = "x"), "provider_spec")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("unknown argument `flavour`"), "{unknown}");
        let bad = parse(quote!(kind = "my-kind"), "provider_spec")
            .unwrap_err()
            .to_string();
        assert!(bad.contains("UpperCamelCase"), "{bad}");
        let not_string = parse(quote!(kind = 3), "provider_spec").unwrap_err().to_string();
        assert!(not_string.contains("takes a string"), "{not_string}");
    }
}
