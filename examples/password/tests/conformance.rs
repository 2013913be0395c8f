//! The Password generator passes the conformance suite's generator cases in
//! process (real mTLS over loopback).

use eso_example_password::PasswordSpec;
use eso_runtime::ProviderSpec;
use eso_runtime::testing::conformance::{self, Fixtures, Target};
use eso_runtime::testing::{TestResult, check_eq};

const MANIFESTS: &str = "\
apiVersion: provider.external-secrets.io/v2alpha1
kind: Password
metadata: {name: defaults, namespace: default}
spec: {}
";

#[tokio::test]
async fn the_password_generator_passes_the_generator_cases() -> TestResult {
    let target = Target::generator(&PasswordSpec::GVK, "default", "defaults");
    let report =
        conformance::run_in_process(eso_example_password::provider(), MANIFESTS, &target, &Fixtures::new()).await?;
    eprintln!("{report}");
    report.assert_passed()?;
    let mut expected: Vec<&str> = conformance::cases()
        .iter()
        .map(|c| c.id)
        .filter(|id| id.starts_with("contract.") || id.starts_with("generator.") || id.starts_with("protocol."))
        .collect();
    // The generated passwords are the known values the leak check looks for.
    expected.push("errors.no-value-in-messages");
    check_eq!(report.passed_ids(), expected, "passed cases");
    Ok(())
}
