//! What a call teaches about a provider object's readiness, recorded on the
//! object's status (`Ready` condition) where the scope allows it.

use super::call::Resolved;
use crate::source::ReadyState;
use crate::{Error, ErrorKind};

/// The `Ready=False` state for an error. The reason depends on the error's kind
/// only, so Validate and data calls that fail the same way record the same state
/// (and nothing is written again when they alternate).
pub(crate) fn not_ready(error: &Error) -> ReadyState {
    let reason = match error.kind() {
        ErrorKind::InvalidConfig | ErrorKind::InvalidRequest => "InvalidConfiguration",
        ErrorKind::PermissionDenied | ErrorKind::Unauthenticated => "AccessDenied",
        ErrorKind::Unavailable | ErrorKind::DeadlineExceeded => "BackendUnavailable",
        _ => "Error",
    };
    ReadyState::NotReady {
        reason,
        message: error.to_string(),
    }
}

impl Resolved {
    /// Records whether the provider can use the object, on the object's status,
    /// where the scope allows it ([`Scope::reports_object_status`](crate::scope::Scope::reports_object_status)).
    pub(crate) fn report(&self, state: ReadyState) {
        if self.scope.reports_object_status() {
            self.source.report(&self.object, state);
        }
    }
}
