//! The Fake provider's CRDs, pinned by snapshot (review changes with `cargo insta
//! review`, or `INSTA_UPDATE=always cargo test -p eso-example-fake --test crds` and
//! read the diff), parsed back as `apiextensions.k8s.io/v1` and checked structural.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use eso_runtime::testing::{TestResult, check_eq, structural_crds};

fn crds_yaml() -> String {
    let provider = eso_example_fake::provider(eso_runtime::ProviderInfo {
        name: "eso-example-fake",
        version: "0.1.0",
    });
    provider.manifest().unwrap().crds_yaml().unwrap()
}

#[test]
fn crds_match_the_snapshot() {
    insta::assert_snapshot!("fake_crds", crds_yaml());
}

#[test]
fn crds_parse_back_and_are_structural() -> TestResult {
    check_eq!(
        structural_crds(&crds_yaml())?,
        [
            "fakes.provider.external-secrets.io",
            "fakegenerators.provider.external-secrets.io"
        ],
        "the CRDs"
    );
    Ok(())
}
