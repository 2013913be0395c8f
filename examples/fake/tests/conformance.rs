//! The Fake passes the conformance suite in process (real mTLS over loopback):
//! every case that applies to its store kind and to its generator kind.
//!
//! The fixtures are entries of the Fake's spec; the suite writes its own keys
//! (not in the spec, without `property`) for the write cases.

mod common;

use common::*;
use eso_runtime::testing::conformance::{self, FindFixture, Fixture, Fixtures, Outcome, Target};
use std::time::Duration;

fn manifests() -> String {
    [
        fake_object(
            "default",
            "backend",
            "  data:\n    - key: greeting\n      value: fake-greeting-4c1d\n      tags: {team: a}\n    - key: db/host\n      value: db.internal\n      tags: {team: a, tier: db}\n    - key: db/credentials\n      value: '{\"username\":\"app-user\",\"password\":\"pw-fake-9b2e\"}'\n    - key: db/credentials\n      version: v1\n      value: old-credentials-v1-77aa",
        ),
        generator_object("default", "gen", "  data:\n    token: generated-token-5e6f"),
    ]
    .concat()
}

fn fixtures() -> Fixtures {
    Fixtures::of([
        Fixture::value("greeting", "fake-greeting-4c1d"),
        Fixture::value("db/credentials", "pw-fake-9b2e").of_property("password"),
        Fixture::value("db/credentials", "old-credentials-v1-77aa").at_version("v1"),
        Fixture::map(
            "db/credentials",
            &[("username", "app-user"), ("password", "pw-fake-9b2e")],
        ),
        Fixture::value("db/host", "db.internal"),
    ])
    .with_finds([
        FindFixture::by_path("db/", &["db/credentials", "db/host"]),
        FindFixture::by_tags(&[("team", "a")], &["db/host", "greeting"]),
        FindFixture::by_tags(&[("team", "a")], &["greeting"]).named("^gr"),
        FindFixture::by_tags(&[("team", "a"), ("tier", "db")], &["db/host"]),
    ])
}

fn provider() -> eso_runtime::Provider {
    eso_example_fake::provider(eso_runtime::ProviderInfo {
        name: "fake",
        version: "0",
    })
}

#[tokio::test]
async fn the_fake_store_passes_every_case_that_applies() -> TestResult {
    let target = Target::store(&FAKE, "default", "backend");
    let report = conformance::run_in_process(provider(), &manifests(), &target, &fixtures()).await?;
    eprintln!("{report}");
    report.assert_passed()?;
    // The Fake is READ_WRITE and the fixtures have versions, properties and maps:
    // only the seed, the read-only and the generator cases do not apply.
    let mut expected: Vec<&str> = vec![
        "fixtures.seed.push",
        "store.read-only.push-unimplemented",
        "store.read-only.delete-unimplemented",
    ];
    expected.extend(
        conformance::cases()
            .iter()
            .map(|c| c.id)
            .filter(|id| id.starts_with("generator.")),
    );
    check_eq!(report.skipped_ids(), expected, "skipped cases");
    check!(
        report.duration < Duration::from_secs(60),
        "the suite took {:?}",
        report.duration
    );
    Ok(())
}

#[tokio::test]
async fn the_fake_generator_passes_every_case_that_applies() -> TestResult {
    let target = Target::generator(&FAKE_GENERATOR, "default", "gen");
    let report = conformance::run_in_process(provider(), &manifests(), &target, &Fixtures::new()).await?;
    eprintln!("{report}");
    report.assert_passed()?;
    let applicable = ["contract.", "generator.", "protocol.", "errors.no-value-in-messages"];
    for case in conformance::cases() {
        let applies = applicable.iter().any(|prefix| case.id.starts_with(prefix));
        let outcome = &report.case(case.id).ok_or("a case is missing")?.outcome;
        check_eq!(matches!(outcome, Outcome::Passed), applies, "{}: {outcome:?}", case.id);
    }
    Ok(())
}
