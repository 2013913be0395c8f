//! The `FakeGenerator` kind: returns its spec's data, with a state Cleanup gets back.

use eso_runtime::{Ctx, Error, Generated, Generator, Result, SecretValue};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A generator for testing External Secrets Operator: every Generate returns
/// these values, with a state that Cleanup gets back.
#[eso_runtime::generator_spec(kind = "FakeGenerator")]
#[derive(Default)]
pub struct FakeGeneratorSpec {
    /// The values every Generate returns.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

/// What Generate hands ESO core and Cleanup gets back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FakeGeneratorState {
    /// Which generation this was.
    pub generation_id: String,
    /// The keys it produced.
    pub keys: Vec<String>,
}

/// The fake generator (serving kind `FakeGenerator`). It remembers generations
/// until they are cleaned up.
#[derive(Default)]
pub struct FakeGenerator {
    counter: AtomicU64,
    outstanding: Mutex<HashSet<String>>,
}

impl FakeGenerator {
    /// Generations not yet cleaned up.
    pub fn outstanding(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .outstanding
            .lock()
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }
}

impl Generator for FakeGenerator {
    type Spec = FakeGeneratorSpec;
    type State = FakeGeneratorState;

    async fn generate(&self, ctx: &Ctx, spec: &FakeGeneratorSpec) -> Result<Generated<FakeGeneratorState>> {
        let id = format!("{}-{}", ctx.uid(), self.counter.fetch_add(1, Ordering::Relaxed));
        self.outstanding
            .lock()
            .map_err(|_| Error::internal("fake generator lock poisoned"))?
            .insert(id.clone());
        Ok(Generated {
            secrets: spec
                .data
                .iter()
                .map(|(k, v)| (k.clone(), SecretValue::from(v.as_str())))
                .collect(),
            state: Some(FakeGeneratorState {
                generation_id: id,
                keys: spec.data.keys().cloned().collect(),
            }),
        })
    }

    async fn cleanup(&self, _ctx: &Ctx, _spec: Option<&FakeGeneratorSpec>, state: FakeGeneratorState) -> Result<()> {
        // Idempotent: an id already cleaned up (or never seen, e.g. after a restart) is fine.
        self.outstanding
            .lock()
            .map_err(|_| Error::internal("fake generator lock poisoned"))?
            .remove(&state.generation_id);
        Ok(())
    }
}
