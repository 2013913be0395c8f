//! Parsing the `key = "value"` arguments of `#[provider_spec(...)]` / `#[generator_spec(...)]`.
//!
//! Every argument is checked here, where the span of the offending value is known,
//! so that a name the API server would reject (or an identifier Rust would reject)
//! is a compile error at that value rather than a failure at deploy time.

use crate::errors::Errors;
use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitStr, Meta, Token};

/// The default API group of provider and generator kinds (WIRE.md).
pub const DEFAULT_GROUP: &str = "provider.external-secrets.io";
/// The default API version of provider and generator kinds (WIRE.md).
pub const DEFAULT_VERSION: &str = "v2alpha1";

/// The arguments of `#[provider_spec(...)]` / `#[generator_spec(...)]`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SpecArgs {
    /// The kind, UpperCamelCase.
    pub kind: String,
    /// The API group.
    pub group: String,
    /// The API version.
    pub version: String,
    /// The plural resource name; kube-derive infers it when absent.
    pub plural: Option<String>,
    /// Short names for kubectl.
    pub shortnames: Vec<String>,
    /// Categories for kubectl (`kubectl get <category>`).
    pub categories: Vec<String>,
    /// The name of the generated resource type; `<Kind>Resource` when absent.
    pub root: Option<String>,
    /// The doc comment of the generated resource type.
    pub doc: Option<String>,
}

impl SpecArgs {
    /// The name of the generated resource type.
    pub fn root_name(&self) -> String {
        self.root.clone().unwrap_or_else(|| format!("{}Resource", self.kind))
    }
}

/// The argument names, as listed in errors.
pub const ALLOWED: &str = "kind, group, version, plural, shortname, category, root, doc";

/// Whether `name` is a DNS-1035 label, as the API server requires of CRD versions,
/// plurals, short names and categories (the rule: [`eso_names::dns1035_label`]).
pub fn is_dns_label(name: &str) -> bool {
    eso_names::dns1035_label(name).is_ok()
}

/// Whether `name` is a DNS subdomain with at least one dot, as a CRD's group must be (the
/// rule: [`eso_names::api_group`]).
pub fn is_group(name: &str) -> bool {
    eso_names::api_group(name).is_ok()
}

/// Whether `name` is an UpperCamelCase Rust identifier (the kind names a generated
/// type, and Kubernetes kinds are UpperCamelCase).
pub fn is_type_name(name: &str) -> bool {
    eso_names::is_upper_camel_case(name) && name != "Self"
}

/// Parses and checks the arguments; `attribute` names the macro in messages. Every
/// bad argument is reported, not only the first.
pub fn parse(args: TokenStream, attribute: &str) -> syn::Result<SpecArgs> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated
        .parse2(args)
        .map_err(|error| {
            syn::Error::new(
                error.span(),
                format!("{error}; #[{attribute}] takes `key = \"value\"` arguments: {ALLOWED}"),
            )
        })?;
    let mut parsed = SpecArgs {
        group: DEFAULT_GROUP.into(),
        version: DEFAULT_VERSION.into(),
        ..Default::default()
    };
    let mut errors = Errors::default();
    let mut kind = None;
    let mut seen: Vec<String> = Vec::new();
    for meta in metas {
        let key = meta
            .path()
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_else(|| quote::quote!(#meta).to_string());
        if !ALLOWED.split(", ").any(|allowed| allowed == key) {
            errors.push(syn::Error::new_spanned(
                meta.path(),
                format!("unknown argument `{key}` of #[{attribute}]; allowed: {ALLOWED}"),
            ));
            continue;
        }
        let value = match &meta {
            Meta::NameValue(pair) => match &pair.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(value), ..
                }) => value.clone(),
                other => {
                    errors.push(syn::Error::new_spanned(
                        other,
                        format!("`{key}` takes a string, e.g. {key} = \"...\""),
                    ));
                    continue;
                }
            },
            other => {
                errors.push(syn::Error::new_spanned(
                    other,
                    format!("`{key}` takes a string, e.g. {key} = \"...\""),
                ));
                continue;
            }
        };
        let repeatable = key == "shortname" || key == "category";
        if !repeatable && seen.contains(&key) {
            errors.push(syn::Error::new_spanned(meta.path(), format!("`{key}` is given twice")));
            continue;
        }
        seen.push(key.clone());
        match check(&key, &value) {
            Err(message) => errors.push(syn::Error::new(value.span(), message)),
            Ok(()) => {
                let text = value.value();
                match key.as_str() {
                    "kind" => kind = Some(text),
                    "group" => parsed.group = text,
                    "version" => parsed.version = text,
                    "plural" => parsed.plural = Some(text),
                    "shortname" => parsed.shortnames.push(text),
                    "category" => parsed.categories.push(text),
                    "root" => parsed.root = Some(text),
                    _ => parsed.doc = Some(text),
                }
            }
        }
    }
    match kind {
        Some(kind) => parsed.kind = kind,
        // Only when the kind is absent, not when it was given but refused.
        None if !seen.iter().any(|k| k == "kind") => errors.push(syn::Error::new(
            Span::call_site(),
            format!("#[{attribute}] needs the kind of the custom resource, e.g. #[{attribute}(kind = \"Vault\")]"),
        )),
        None => {}
    }
    errors.finish_with(parsed)
}

/// Checks one argument's value; the message explains what is expected.
fn check(key: &str, value: &LitStr) -> Result<(), String> {
    let text = value.value();
    if text.is_empty() {
        return Err(format!("`{key}` must not be empty"));
    }
    let ok = match key {
        "kind" => is_type_name(&text),
        "root" => is_type_name(&text),
        "group" => is_group(&text),
        "version" | "plural" | "shortname" | "category" => is_dns_label(&text),
        _ => true,
    };
    if ok {
        return Ok(());
    }
    Err(match key {
        "kind" => format!("kind {text:?} must be UpperCamelCase letters and digits, e.g. \"Vault\""),
        "root" => format!("root {text:?} names a Rust type: UpperCamelCase letters and digits, e.g. \"VaultResource\""),
        "group" => {
            format!("group {text:?} must be a lowercase DNS name with at least one dot, e.g. \"{DEFAULT_GROUP}\"")
        }
        "version" => format!(
            "version {text:?} must be lowercase letters, digits and `-`, starting with a letter, e.g. \"{DEFAULT_VERSION}\" or \"v1\""
        ),
        _ => format!(
            "{key} {text:?} must be lowercase letters, digits and `-`, starting with a letter (at most 63), e.g. \"vaults\""
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn error(args: TokenStream) -> String {
        match parse(args, "provider_spec") {
            Ok(parsed) => panic!("expected an error, got {parsed:?}"),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"),
        }
    }

    #[test]
    fn defaults() {
        let args = parse(quote!(kind = "Vault"), "provider_spec").unwrap();
        assert_eq!(
            args,
            SpecArgs {
                kind: "Vault".into(),
                group: "provider.external-secrets.io".into(),
                version: "v2alpha1".into(),
                ..Default::default()
            }
        );
        assert_eq!(args.root_name(), "VaultResource");
    }

    #[test]
    fn every_argument_and_repeats() {
        let args = parse(
            quote!(
                kind = "Vault",
                group = "secrets.example.com",
                version = "v1beta1",
                plural = "vaults",
                shortname = "vlt",
                shortname = "vt",
                category = "eso",
                category = "secrets",
                root = "VaultObject",
                doc = "A Vault store.",
            ),
            "provider_spec",
        )
        .unwrap();
        assert_eq!(
            args,
            SpecArgs {
                kind: "Vault".into(),
                group: "secrets.example.com".into(),
                version: "v1beta1".into(),
                plural: Some("vaults".into()),
                shortnames: vec!["vlt".into(), "vt".into()],
                categories: vec!["eso".into(), "secrets".into()],
                root: Some("VaultObject".into()),
                doc: Some("A Vault store.".into()),
            }
        );
        assert_eq!(args.root_name(), "VaultObject");
    }

    #[test]
    fn errors_name_the_argument() {
        let missing = error(quote!(group = "a.io"));
        assert!(missing.contains("#[provider_spec] needs the kind"), "{missing}");
        assert!(error(quote!()).contains("needs the kind"));
        let unknown = error(quote!(kind = "A", flavour = "x"));
        assert!(
            unknown.contains("unknown argument `flavour` of #[provider_spec]; allowed: kind, group"),
            "{unknown}"
        );
        assert!(error(quote!(kind = "my-kind")).contains("UpperCamelCase"));
        assert!(error(quote!(kind = "Self")).contains("UpperCamelCase"));
        assert!(error(quote!(kind = 3)).contains("`kind` takes a string"));
        assert!(error(quote!(kind)).contains("`kind` takes a string"));
        assert!(error(quote!(kind("A"))).contains("`kind` takes a string"));
        assert!(error(quote!(kind = "")).contains("must not be empty"));
        assert!(error(quote!(kind = "A", kind = "B")).contains("`kind` is given twice"));
        assert!(error(quote!(kind = "A", group = "nodot")).contains("at least one dot"));
        assert!(error(quote!(kind = "A", group = "Upper.io")).contains("lowercase DNS name"));
        assert!(error(quote!(kind = "A", version = "V1")).contains("version \"V1\""));
        assert!(error(quote!(kind = "A", plural = "my_vaults")).contains("plural \"my_vaults\""));
        assert!(error(quote!(kind = "A", shortname = "-v")).contains("shortname \"-v\""));
        assert!(error(quote!(kind = "A", category = "All Of Them")).contains("category"));
        assert!(error(quote!(kind = "A", root = "my-root")).contains("names a Rust type"));
        assert!(error(quote!(kind = "A" group = "a.io")).contains("takes `key = \"value\"` arguments"));
    }

    #[test]
    fn all_errors_at_once() {
        let all = error(quote!(group = "x", flavour = "y"));
        for expected in ["at least one dot", "unknown argument `flavour`", "needs the kind"] {
            assert!(all.contains(expected), "missing {expected} in {all}");
        }
        // A refused kind is reported as refused, not also as missing.
        let refused = error(quote!(kind = "lower"));
        assert!(!refused.contains("needs the kind"), "{refused}");
    }

    #[test]
    fn name_rules() {
        for ok in ["v1", "v2alpha1", "vaults", "my-vaults", "a"] {
            assert!(is_dns_label(ok), "{ok}");
        }
        for bad in ["", "V1", "1v", "a_b", "a-", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
        for ok in ["provider.external-secrets.io", "a.io", "x1.example.com"] {
            assert!(is_group(ok), "{ok}");
        }
        for bad in ["io", "A.io", "a..io", ".a.io", "a_b.io", "a-.io"] {
            assert!(!is_group(bad), "{bad}");
        }
        for ok in ["Vault", "FakeGenerator", "OAuth2"] {
            assert!(is_type_name(ok), "{ok}");
        }
        for bad in ["vault", "Fake_Generator", "", "Self", "Ünïcode"] {
            assert!(!is_type_name(bad), "{bad}");
        }
    }
}
