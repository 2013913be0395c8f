//! The credential lint: a spec field named like a credential but typed as a plain
//! string is refused, pointing the author to `SecretKeySelector`, because a value
//! in the spec is readable by anyone who can read the provider object (and ends up
//! in logs, `kubectl get -o yaml`, GitOps repositories).

use crate::errors::Errors;
use syn::{Field, GenericArgument, PathArguments, Type};

/// Words that make a field name read like a credential; compared with the name
/// lowercased and `_` removed, so `api_key`, `apiKey` and `APIKEY` all match `apikey`.
pub const CREDENTIAL_WORDS: [&str; 12] = [
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "clientsecret",
    "credential",
    "accesskey",
    "secretkey",
    "passphrase",
    "bearer",
];

/// What `#[eso(...)]` accepts, as listed in errors.
const ESO_OPTIONS: &str = "not_a_credential";

/// Whether a field name reads like a credential (any case, `_` ignored, `r#` ignored).
pub fn looks_like_credential(name: &str) -> bool {
    let name = name.strip_prefix("r#").unwrap_or(name);
    let normalized = name.replace('_', "").to_lowercase();
    CREDENTIAL_WORDS.iter().any(|word| normalized.contains(word))
}

/// The type inside invisible groups (from `macro_rules!`) and parentheses.
fn unwrap(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => unwrap(&group.elem),
        Type::Paren(paren) => unwrap(&paren.elem),
        other => other,
    }
}

/// The first type argument of `Option<T>` / `Vec<T>`.
fn first_type_argument(segment: &syn::PathSegment) -> Option<&Type> {
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

/// Whether the type is a plain string: `String` (any path ending in it), `&str`, or
/// `Option`/`Vec` of one. Anything else (notably `SecretKeySelector`) is not.
pub fn is_plain_string(ty: &Type) -> bool {
    match unwrap(ty) {
        Type::Reference(reference) => {
            matches!(unwrap(&reference.elem), Type::Path(p) if p.qself.is_none() && p.path.is_ident("str"))
        }
        Type::Path(path) if path.qself.is_none() => match path.path.segments.last() {
            Some(segment) if segment.ident == "String" => segment.arguments.is_none(),
            Some(segment) if segment.ident == "Option" || segment.ident == "Vec" => {
                first_type_argument(segment).is_some_and(is_plain_string)
            }
            _ => false,
        },
        _ => false,
    }
}

/// Reads and removes every `#[eso(...)]` of a field; returns whether it opted out.
pub fn take_eso_attributes(field: &mut Field) -> syn::Result<bool> {
    let mut opted_out = false;
    let mut errors = Errors::default();
    field.attrs.retain(|attr| {
        if !attr.path().is_ident("eso") {
            return true;
        }
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("not_a_credential") {
                opted_out = true;
                Ok(())
            } else {
                Err(meta.error(format!("unknown #[eso] option; allowed: {ESO_OPTIONS}")))
            }
        });
        errors.handle(parsed);
        false
    });
    errors.finish_with(opted_out)
}

/// The message for a plain-string credential field.
pub fn message(name: &str) -> String {
    format!(
        "field `{name}` looks like a credential but is a plain string; credentials belong in a Kubernetes Secret: \
         use `eso_runtime::SecretKeySelector` (read it with `ctx.secret(&spec.{name})`), \
         or mark the field `#[eso(not_a_credential)]` if it is not one"
    )
}

/// The lint for one field: removes `#[eso(...)]`, then refuses a credential-like
/// name on a plain string unless the field opted out. The error points at the name.
pub fn check(field: &mut Field) -> syn::Result<()> {
    let opted_out = take_eso_attributes(field)?;
    let Some(ident) = field.ident.as_ref() else {
        return Ok(());
    };
    let name = ident.to_string();
    if !opted_out && looks_like_credential(&name) && is_plain_string(&field.ty) {
        return Err(syn::Error::new_spanned(ident, message(&name)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn names() {
        for name in [
            "password",
            "db_password",
            "passwd",
            "secret",
            "client_secret",
            "clientSecret",
            "token",
            "vault_token",
            "bearer_token",
            "bearerToken",
            "api_key",
            "apiKey",
            "APIKEY",
            "private_key",
            "privateKey",
            "credentials",
            "gcpCredentialsJson",
            "access_key",
            "accessKeyId",
            "secret_access_key",
            "secretKey",
            "passphrase",
            "SECRET_ID",
            "r#token",
        ] {
            assert!(looks_like_credential(name), "{name}");
        }
        for name in [
            "server",
            "mount",
            "namespace",
            "path",
            "role",
            "key",
            "key_id",
            "api_url",
            "access_mode",
            "private",
            "pass",
        ] {
            assert!(!looks_like_credential(name), "{name}");
        }
    }

    #[test]
    fn types() {
        let plain: [Type; 9] = [
            parse_quote!(String),
            parse_quote!(std::string::String),
            parse_quote!(::std::string::String),
            parse_quote!(Option<String>),
            parse_quote!(std::option::Option<alloc::string::String>),
            parse_quote!(Vec<String>),
            parse_quote!(&'static str),
            parse_quote!(Option<&'a str>),
            parse_quote!(Option<Vec<String>>),
        ];
        for ty in plain {
            assert!(is_plain_string(&ty), "{}", quote::quote!(#ty));
        }
        let fine: [Type; 9] = [
            parse_quote!(SecretKeySelector),
            parse_quote!(eso_runtime::SecretKeySelector),
            parse_quote!(Option<eso_runtime::SecretKeySelector>),
            parse_quote!(Vec<SecretKeySelector>),
            parse_quote!(u32),
            parse_quote!(bool),
            parse_quote!(std::collections::BTreeMap<String, String>),
            parse_quote!(&'static [u8]),
            parse_quote!(<T as Trait>::String),
        ];
        for ty in fine {
            assert!(!is_plain_string(&ty), "{}", quote::quote!(#ty));
        }
    }

    fn field_error(mut field: Field) -> Option<String> {
        check(&mut field).err().map(|e| e.to_string())
    }

    #[test]
    fn lint_table() {
        let refused: [Field; 6] = [
            parse_quote!(pub token: String),
            parse_quote!(pub apiKey: Option<String>),
            parse_quote!(pub client_secret: std::string::String),
            parse_quote!(pub passwords: Vec<String>),
            parse_quote!(pub bearer: &'static str),
            parse_quote!(pub private_key: Option<&'static str>),
        ];
        for field in refused {
            let name = field.ident.as_ref().map(ToString::to_string).unwrap_or_default();
            let error = field_error(field).unwrap_or_else(|| panic!("{name} is refused"));
            assert_eq!(error, message(&name));
        }
        let allowed: [Field; 5] = [
            parse_quote!(pub token: SecretKeySelector),
            parse_quote!(pub api_key: Option<eso_runtime::SecretKeySelector>),
            parse_quote!(pub server: String),
            parse_quote!(pub token_ttl_seconds: u32),
            parse_quote!(#[eso(not_a_credential)] pub token_path: String),
        ];
        for field in allowed {
            let name = field.ident.as_ref().map(ToString::to_string).unwrap_or_default();
            assert_eq!(field_error(field), None, "{name}");
        }
    }

    #[test]
    fn the_message() {
        assert_eq!(
            message("token"),
            "field `token` looks like a credential but is a plain string; credentials belong in a Kubernetes Secret: \
             use `eso_runtime::SecretKeySelector` (read it with `ctx.secret(&spec.token)`), \
             or mark the field `#[eso(not_a_credential)]` if it is not one"
        );
    }

    #[test]
    fn opt_out_and_other_options() {
        let mut field: Field = parse_quote!(
            /// Where the token file is.
            #[eso(not_a_credential)]
            #[serde(default)]
            pub token_path: String
        );
        check(&mut field).unwrap();
        assert_eq!(field.attrs.len(), 2, "only the opt-out is removed");
        assert!(field.attrs.iter().all(|a| !a.path().is_ident("eso")));

        let mut field: Field = parse_quote!(#[eso(sensitive)] pub x: String);
        let error = check(&mut field).unwrap_err().to_string();
        assert_eq!(error, "unknown #[eso] option; allowed: not_a_credential");

        // Every bad #[eso] is reported, not only the first.
        let mut field: Field = parse_quote!(#[eso(a)] #[eso(b)] pub token: String);
        assert_eq!(check(&mut field).unwrap_err().into_iter().count(), 2);

        let mut field: Field = parse_quote!(#[eso] pub x: String);
        assert!(check(&mut field).is_err());
        let mut field: Field = parse_quote!(#[eso(not_a_credential = true)] pub x: String);
        assert!(check(&mut field).is_err());
    }
}
