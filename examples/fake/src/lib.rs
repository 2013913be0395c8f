//! The Fake provider: an in-memory secret store for testing ESO, a drop-in for
//! upstream's `Fake` provider, and a fake generator.
//!
//! - Kind `Fake` (`provider.external-secrets.io/v2alpha1`): `spec.data` lists
//!   `{key, value, version}` entries (plus optional `valueMap` and `tags`). It is
//!   read-write: pushed secrets are kept in memory per provider object, never shared
//!   between two `Fake` objects.
//! - Kind `FakeGenerator`: returns its `spec.data` and a state that Cleanup gets back.
//!
//! [`FakeResource`] and [`FakeGeneratorResource`] are the custom resource types the
//! macros generate.

mod generator;
mod spec;
mod store;

pub use generator::{FakeGenerator, FakeGeneratorResource, FakeGeneratorSpec, FakeGeneratorState};
pub use spec::FakeResource;
pub use spec::{FakeEntry, FakeSpec};
pub use store::{FakeClient, FakeStore};

/// A provider serving both kinds; `main` runs it.
pub fn provider(info: eso_runtime::ProviderInfo) -> eso_runtime::Provider {
    eso_runtime::Provider::new(info)
        .secret_store(FakeStore::default())
        .generator(FakeGenerator::default())
}
