//! The Vault provider's CRDs, pinned by snapshot (review changes with `cargo insta
//! review`, or `INSTA_UPDATE=always cargo test -p eso-example-vault --test crds` and
//! read the diff), parsed back as `apiextensions.k8s.io/v1` and checked structural.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use eso_runtime::testing::{TestResult, check_eq, structural_crds};

fn crds_yaml() -> String {
    let provider = eso_example_vault::provider(eso_runtime::ProviderInfo {
        name: "eso-example-vault",
        version: "0.1.0",
    });
    provider.manifest().unwrap().crds_yaml().unwrap()
}

#[test]
fn crds_match_the_snapshot() {
    insta::assert_snapshot!("vault_crds", crds_yaml());
}

#[test]
fn crds_parse_back_and_are_structural() -> TestResult {
    check_eq!(
        structural_crds(&crds_yaml())?,
        [
            "vaults.provider.external-secrets.io",
            "vaulttokens.provider.external-secrets.io"
        ],
        "the CRDs"
    );
    Ok(())
}

#[test]
fn the_manifest_lists_both_kinds_with_their_capabilities() {
    let provider = eso_example_vault::provider(eso_runtime::ProviderInfo {
        name: "eso-example-vault",
        version: "0.1.0",
    });
    let manifest = provider.manifest().unwrap();
    let kinds: Vec<(&str, Option<&str>)> = manifest
        .kinds
        .iter()
        .map(|k| (k.kind.as_str(), k.capabilities.as_deref()))
        .collect();
    assert_eq!(kinds, [("Vault", Some("READ_WRITE"))]);
    let generators: Vec<&str> = manifest.generators.iter().map(|k| k.kind.as_str()).collect();
    assert_eq!(generators, ["VaultToken"]);
}
