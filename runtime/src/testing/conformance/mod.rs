//! The conformance suite: what ESO core relies on from any out-of-process provider,
//! whatever language it is written in, as a table of cases ([`cases`]) run against
//! one provider object (a [`Target`]) over a connected [`ProviderClient`].
//!
//! Each case has a stable id (`store.roundtrip.binary-value`), a one-line
//! description, the upstream behaviour it encodes, and the capability it needs
//! ([`Needs`]). The suite asks Capabilities first; a case that needs what the
//! provider lacks is skipped with the reason, never passed. [`Fixtures`] say what
//! the backend holds; a writable provider also gets keys the suite writes (under
//! a prefix and a per-run id) and deletes again.
//!
//! In a provider's own tests, in a few lines:
//!
//! ```no_run
//! # async fn example(provider: eso_runtime::Provider) -> eso_runtime::testing::TestResult {
//! use eso_runtime::testing::conformance::{self, Fixture, Fixtures, Target};
//!
//! const FAKE: eso_runtime::Gvk = eso_runtime::Gvk { group: "provider.external-secrets.io", version: "v2alpha1", kind: "Fake" };
//! let manifests = "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata: {name: backend, namespace: default}\nspec: {data: [{key: greeting, value: conformance-greeting}]}\n";
//! let target = Target::store(&FAKE, "default", "backend");
//! let fixtures = Fixtures::of([Fixture::value("greeting", "conformance-greeting")]);
//! let report = conformance::run_in_process(provider, manifests, &target, &fixtures).await?;
//! println!("{report}");
//! report.assert_passed()
//! # }
//! ```
//!
//! By address (any provider, any language): `eso-gen conformance ADDRESS --certs DIR
//! --kind K --api-version G/V --name N --namespace NS`, which calls [`run`].
//!
//! Nothing a provider answers can make the suite panic: every answer is checked
//! and reported. Reports never show a secret value: failure reasons name keys,
//! lengths and codes, and any known value (a fixture's, or one the suite wrote or
//! was generated) that reaches a reason anyway is replaced by `<redacted>`.

mod cases;
mod contract;
mod fixtures;
mod report;
mod session;

pub use fixtures::{FindFixture, Fixture, Fixtures};
pub use report::{CaseReport, Outcome, Report, escape as xml_escape};

use crate::Gvk;
use crate::Provider;
use crate::client::ProviderClient;
use crate::testing::requests::{GeneratorCall, StoreCall};
use crate::testing::{TestProvider, TestResult};
use eso_proto::generator::v1 as gen_wire;
use eso_proto::provider::v1 as wire;
use futures::future::BoxFuture;
use session::Session;
use std::time::{Duration, Instant};

/// The suite's version: bumped when a case changes what it accepts (ids are never
/// reused for a different check).
pub const SUITE_VERSION: &str = "suite v1";

/// How long one case may take by default.
pub const DEFAULT_CASE_TIMEOUT: Duration = Duration::from_secs(20);

/// Which service the target object is served by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `provider.v1.SecretStoreProvider`: a provider (store) object.
    Store,
    /// `generator.v1.GeneratorProvider`: a generator object.
    Generator,
}

/// The provider object the suite addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Store or generator.
    pub service: Service,
    /// `group/version`, e.g. `provider.external-secrets.io/v2alpha1`.
    pub api_version: String,
    /// The kind, e.g. `Fake`.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// The object's namespace (also the namespace the calls come from).
    pub namespace: String,
    /// The ESO object the calls come through (`SecretStore`, `ClusterSecretStore`, …);
    /// stores only.
    pub store_ref_kind: String,
}

impl Target {
    /// A store object of `gvk`, called through a `SecretStore` in its namespace.
    pub fn store(gvk: &Gvk, namespace: &str, name: &str) -> Self {
        Target::new(Service::Store, &gvk.api_version(), gvk.kind, namespace, name)
    }

    /// A generator object of `gvk`.
    pub fn generator(gvk: &Gvk, namespace: &str, name: &str) -> Self {
        Target::new(Service::Generator, &gvk.api_version(), gvk.kind, namespace, name)
    }

    /// Any object, named by strings (from a command line, say).
    pub fn new(service: Service, api_version: &str, kind: &str, namespace: &str, name: &str) -> Self {
        Target {
            service,
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            namespace: namespace.to_string(),
            store_ref_kind: "SecretStore".to_string(),
        }
    }

    /// The same object reached through another ESO object (`ClusterSecretStore`, …).
    pub fn through(mut self, store_ref_kind: &str) -> Self {
        self.store_ref_kind = store_ref_kind.to_string();
        self
    }

    /// `Kind namespace/name (group/version) through StoreKind`, for reports.
    pub fn describe(&self) -> String {
        let object = crate::display::object_name(&self.kind, &self.namespace, &self.name);
        match self.service {
            Service::Store => format!(
                "{object} ({}) through {}",
                crate::display::bounded(&self.api_version),
                crate::display::bounded(&self.store_ref_kind)
            ),
            Service::Generator => format!("{object} ({}), a generator", crate::display::bounded(&self.api_version)),
        }
    }

    /// The reference ESO core would send for this object.
    pub fn provider_ref(&self) -> wire::ProviderReference {
        wire::ProviderReference {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            store_ref_kind: self.store_ref_kind.clone(),
        }
    }

    /// The generator reference ESO core would send for this object.
    pub fn generator_ref(&self) -> gen_wire::GeneratorRef {
        gen_wire::GeneratorRef {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
        }
    }

    /// Requests about this store object, from its namespace.
    pub fn store_call(&self) -> StoreCall {
        StoreCall::from_ref(self.provider_ref(), &self.namespace)
    }

    /// Requests about this generator object, from its namespace.
    pub fn generator_call(&self) -> GeneratorCall {
        GeneratorCall::from_ref(self.generator_ref(), &self.namespace)
    }
}

/// What a case needs from the provider to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Any target.
    Any,
    /// A store target, whatever its capabilities.
    Store,
    /// A store that reads (Capabilities READ_ONLY or READ_WRITE).
    Read,
    /// A store that writes (Capabilities WRITE_ONLY or READ_WRITE).
    Write,
    /// A store that reads and writes (READ_WRITE).
    ReadWrite,
    /// A store that says it is READ_ONLY.
    ReadOnly,
    /// A generator target.
    Generator,
}

impl Needs {
    /// The name `--list` shows.
    pub fn name(self) -> &'static str {
        match self {
            Needs::Any => "any",
            Needs::Store => "store",
            Needs::Read => "read",
            Needs::Write => "write",
            Needs::ReadWrite => "read-write",
            Needs::ReadOnly => "read-only",
            Needs::Generator => "generator",
        }
    }
}

/// What a case's body returns: passed, or skipped with a reason; a failure is `Err`.
pub(crate) enum Checked {
    Passed,
    Skipped(String),
}

pub(crate) type CaseResult = TestResult<Checked>;

/// One case of the suite.
pub struct Case {
    /// Stable id, e.g. `store.roundtrip.binary-value`.
    pub id: &'static str,
    /// What it checks, in one line.
    pub description: &'static str,
    /// The upstream behaviour it encodes, in one line.
    pub upstream: &'static str,
    /// What it needs to apply.
    pub needs: Needs,
    body: for<'a> fn(&'a mut Session) -> BoxFuture<'a, CaseResult>,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("id", &self.id)
            .field("needs", &self.needs)
            .finish_non_exhaustive()
    }
}

/// Every case, in the order they run.
pub fn cases() -> &'static [Case] {
    cases::CASES
}

/// `id  [needs]  description` for every case, one a line: what `--list` prints.
pub fn list() -> String {
    let width = cases().iter().map(|c| c.id.len()).max().unwrap_or(0);
    cases()
        .iter()
        .map(|c| {
            format!(
                "{:width$}  {:12}  {}",
                c.id,
                format!("[{}]", c.needs.name()),
                c.description
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long one case may take before it fails.
    pub case_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            case_timeout: DEFAULT_CASE_TIMEOUT,
        }
    }
}

/// Runs every case against `target` over `client`, with the default options.
pub async fn run(client: ProviderClient, target: &Target, fixtures: &Fixtures) -> Report {
    run_with(client, target, fixtures, &Options::default()).await
}

/// Runs every case against `target` over `client`.
pub async fn run_with(client: ProviderClient, target: &Target, fixtures: &Fixtures, options: &Options) -> Report {
    let started = Instant::now();
    let mut session = Session::start(client, target.clone(), fixtures.clone(), options.case_timeout).await;
    let mut reports = Vec::with_capacity(cases().len());
    for case in cases() {
        let case_started = Instant::now();
        let outcome = match session.lacks(case.needs) {
            Some(reason) => Outcome::Skipped(reason),
            None => match tokio::time::timeout(options.case_timeout, (case.body)(&mut session)).await {
                Ok(Ok(Checked::Passed)) => Outcome::Passed,
                Ok(Ok(Checked::Skipped(reason))) => Outcome::Skipped(session.redact(&reason)),
                Ok(Err(failure)) => Outcome::Failed(session.redact(failure.message())),
                Err(_) => Outcome::Failed(format!(
                    "did not finish within {:.0?} (the per-case timeout)",
                    options.case_timeout
                )),
            },
        };
        reports.push(CaseReport {
            id: case.id,
            description: case.description,
            outcome,
            duration: case_started.elapsed(),
        });
    }
    session.clean_up().await;
    Report {
        target: target.describe(),
        cases: reports,
        duration: started.elapsed(),
    }
}

/// Starts `provider` in process (real mTLS on loopback, objects from `manifests`),
/// runs every case against `target`, stops it, and returns the report.
pub async fn run_in_process(
    provider: Provider,
    manifests: &str,
    target: &Target,
    fixtures: &Fixtures,
) -> TestResult<Report> {
    let (running, client) = TestProvider::start_connected(provider, manifests).await?;
    let report = run(client, target, fixtures).await;
    running.stop().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for case in cases() {
            assert!(seen.insert(case.id), "{} twice", case.id);
            assert!(
                case.id.split('.').count() >= 2
                    && case
                        .id
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'),
                "{}",
                case.id
            );
            assert!(
                !case.description.is_empty() && !case.description.contains('\n'),
                "{}",
                case.id
            );
            assert!(
                !case.upstream.is_empty() && !case.upstream.contains('\n'),
                "{}",
                case.id
            );
        }
        // The leak check reads what the others provoked: it runs last.
        assert_eq!(cases().last().map(|c| c.id), Some("errors.no-value-in-messages"));
    }

    #[test]
    fn list_names_every_case() {
        let list = list();
        assert_eq!(list.lines().count(), cases().len());
        for case in cases() {
            assert!(list.contains(case.id), "{}", case.id);
        }
    }
}
