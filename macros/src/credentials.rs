//! The credential lint: a spec field named like a credential but typed as a plain
//! string is refused, pointing the author to `SecretKeySelector`.

use syn::{Field, GenericArgument, PathArguments, Type};

const CREDENTIAL_WORDS: [&str; 12] = [
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

/// Whether a field name reads like a credential (any case, `_` ignored).
pub fn looks_like_credential(name: &str) -> bool {
    let normalized: String = name.chars().filter(|c| *c != '_').collect::<String>().to_lowercase();
    CREDENTIAL_WORDS.iter().any(|word| normalized.contains(word))
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) => path.path.segments.last(),
        _ => None,
    }
}

fn inner(segment: &syn::PathSegment) -> Option<&Type> {
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

/// Whether the type is a plain string: `String`, `&str`, or `Option`/`Vec` of one.
pub fn is_plain_string(ty: &Type) -> bool {
    match ty {
        Type::Reference(reference) => matches!(&*reference.elem, Type::Path(p) if p.path.is_ident("str")),
        Type::Path(_) => match last_segment(ty) {
            Some(segment) if segment.ident == "String" => true,
            Some(segment) if segment.ident == "Option" || segment.ident == "Vec" => {
                inner(segment).is_some_and(is_plain_string)
            }
            _ => false,
        },
        _ => false,
    }
}

/// Reads and removes `#[eso(...)]` from a field; returns whether it opted out.
pub fn take_eso_attributes(field: &mut Field) -> syn::Result<bool> {
    let mut opted_out = false;
    let mut error = None;
    field.attrs.retain(|attr| {
        if !attr.path().is_ident("eso") {
            return true;
        }
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("not_a_credential") {
                opted_out = true;
                Ok(())
            } else {
                Err(meta.error("unknown #[eso] option; allowed: not_a_credential"))
            }
        });
        if let Err(e) = parsed {
            error = Some(e);
        }
        false
    });
    match error {
        Some(e) => Err(e),
        None => Ok(opted_out),
    }
}

/// The lint for one field.
pub fn check(field: &mut Field) -> syn::Result<()> {
    let opted_out = take_eso_attributes(field)?;
    let Some(name) = field.ident.as_ref().map(|i| i.to_string()) else {
        return Ok(());
    };
    if !opted_out && looks_like_credential(&name) && is_plain_string(&field.ty) {
        return Err(syn::Error::new_spanned(
            field.ident.as_ref(),
            format!(
                "field `{name}` looks like a credential but is a plain string; credentials belong in a Kubernetes Secret: \
                 use `eso_runtime::SecretKeySelector` (read it with `ctx.secret(&spec.{name})`), \
                 or mark the field `#[eso(not_a_credential)]` if it is not one"
            ),
        ));
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
            "api_key",
            "apiKey",
            "bearer_token",
            "clientSecret",
            "vault_token",
            "privateKey",
            "SECRET_ID",
        ] {
            assert!(looks_like_credential(name), "{name}");
        }
        for name in ["server", "mount", "namespace", "path", "role", "key"] {
            assert!(!looks_like_credential(name), "{name}");
        }
    }

    #[test]
    fn types() {
        let plain: [Type; 5] = [
            parse_quote!(String),
            parse_quote!(std::string::String),
            parse_quote!(Option<String>),
            parse_quote!(Vec<String>),
            parse_quote!(&'static str),
        ];
        for ty in plain {
            assert!(is_plain_string(&ty), "{}", quote::quote!(#ty));
        }
        let fine: [Type; 3] = [
            parse_quote!(SecretKeySelector),
            parse_quote!(Option<eso_runtime::SecretKeySelector>),
            parse_quote!(u32),
        ];
        for ty in fine {
            assert!(!is_plain_string(&ty), "{}", quote::quote!(#ty));
        }
    }

    #[test]
    fn lint_and_opt_out() {
        let mut field: Field = parse_quote!(pub token: String);
        let error = check(&mut field).unwrap_err().to_string();
        assert!(error.contains("field `token` looks like a credential"), "{error}");
        let mut field: Field = parse_quote!(#[eso(not_a_credential)] pub token_path: String);
        check(&mut field).unwrap();
        assert!(field.attrs.is_empty(), "the opt-out attribute is removed");
        let mut field: Field = parse_quote!(#[eso(sensitive)] pub x: String);
        assert!(
            check(&mut field)
                .unwrap_err()
                .to_string()
                .contains("allowed: not_a_credential")
        );
        let mut field: Field = parse_quote!(pub token: SecretKeySelector);
        check(&mut field).unwrap();
    }
}
