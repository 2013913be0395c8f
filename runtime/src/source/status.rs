//! The `Ready` condition the runtime keeps on each provider object: built from
//! what the last Validate or `connect` found, and compared with what the object
//! already says so that status is written only when something changed.

use crate::crd::Condition;
use crate::crd::ProviderStatus;

/// The condition type the runtime owns.
pub const READY: &str = "Ready";

/// Whether the provider can use an object, as its `Ready` condition says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadyState {
    /// Validate passed, or `connect` built a backend client.
    Ready,
    /// The provider cannot use the object.
    NotReady {
        /// CamelCase reason, from the error's kind (dispatch's `not_ready`):
        /// `InvalidConfiguration`, `AccessDenied`, `BackendUnavailable`, else `Error`.
        reason: &'static str,
        /// What is wrong; never contains a secret value.
        message: String,
    },
}

/// The message of a `Ready=True` condition.
const READY_MESSAGE: &str = "the provider can use this object";

impl ReadyState {
    fn status(&self) -> &'static str {
        match self {
            ReadyState::Ready => "True",
            ReadyState::NotReady { .. } => "False",
        }
    }

    fn reason(&self) -> &str {
        match self {
            ReadyState::Ready => "Ready",
            ReadyState::NotReady { reason, .. } => reason,
        }
    }

    fn message(&self) -> &str {
        match self {
            ReadyState::Ready => READY_MESSAGE,
            ReadyState::NotReady { message, .. } => message,
        }
    }

    /// Whether `status` already says exactly this for `generation`.
    pub(crate) fn is_recorded_in(&self, status: &ProviderStatus, generation: Option<i64>) -> bool {
        status.observed_generation == generation
            && status.conditions.iter().any(|c| {
                c.type_ == READY
                    && c.status == self.status()
                    && c.reason == self.reason()
                    && c.message == self.message()
                    && c.observed_generation == generation
            })
    }

    /// The condition to write. `lastTransitionTime` moves only when the status
    /// flips, as Kubernetes conventions ask.
    pub(crate) fn condition(&self, generation: Option<i64>, previous: &ProviderStatus, now: &str) -> Condition {
        let last_transition_time = previous
            .conditions
            .iter()
            .find(|c| c.type_ == READY && c.status == self.status())
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| now.to_string());
        Condition {
            type_: READY.into(),
            status: self.status().into(),
            reason: self.reason().into(),
            message: self.message().into(),
            last_transition_time: Some(last_transition_time),
            observed_generation: generation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_ready(message: &str) -> ReadyState {
        ReadyState::NotReady {
            reason: "ConnectFailed",
            message: message.into(),
        }
    }

    #[test]
    fn recorded_only_when_every_field_matches() {
        let state = not_ready("backend down");
        let empty = ProviderStatus::default();
        assert!(!state.is_recorded_in(&empty, Some(1)));
        let status = ProviderStatus {
            conditions: vec![state.condition(Some(1), &empty, "2026-01-01T00:00:00Z")],
            observed_generation: Some(1),
        };
        assert!(state.is_recorded_in(&status, Some(1)));
        assert!(
            !state.is_recorded_in(&status, Some(2)),
            "a new generation is written again"
        );
        assert!(!not_ready("other").is_recorded_in(&status, Some(1)));
        assert!(!ReadyState::Ready.is_recorded_in(&status, Some(1)));
    }

    #[test]
    fn transition_time_moves_only_on_a_flip() {
        let first = not_ready("a").condition(Some(1), &ProviderStatus::default(), "T1");
        let previous = ProviderStatus {
            conditions: vec![first],
            observed_generation: Some(1),
        };
        let same_status = not_ready("b").condition(Some(2), &previous, "T2");
        assert_eq!(same_status.last_transition_time.as_deref(), Some("T1"));
        let flipped = ReadyState::Ready.condition(Some(2), &previous, "T2");
        assert_eq!(flipped.last_transition_time.as_deref(), Some("T2"));
        assert_eq!(flipped.status, "True");
    }
}
