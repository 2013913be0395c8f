//! Kubernetes API errors, said in terms a provider operator can act on: a 403
//! names the permission the ServiceAccount lacks; an unreachable API server is
//! `UNAVAILABLE`.

use crate::Error;
use kube::runtime::watcher;

/// The API's `Status` behind a client error, if it answered with one.
fn api_status(error: &kube::Error) -> Option<&kube::core::Status> {
    match error {
        kube::Error::Api(status) => Some(status),
        _ => None,
    }
}

/// A call's error for an API request about `what` (e.g. `Secret team-a/creds`)
/// that needed `verbs`.
pub(crate) fn describe_api_error(what: &str, verbs: &str, error: &kube::Error) -> Error {
    match api_status(error) {
        Some(status) => describe_status(what, verbs, status),
        None => Error::unavailable(format!("Kubernetes API unreachable while reading {what}: {error}")),
    }
}

fn describe_status(what: &str, verbs: &str, status: &kube::core::Status) -> Error {
    match status.code {
        403 => Error::permission_denied(format!(
            "RBAC: the provider's ServiceAccount may not {verbs} {what} ({}); grant {verbs} on it (the chart's Role or ClusterRole does)",
            status.message
        )),
        401 => Error::unavailable(format!(
            "the Kubernetes API refused the provider's credentials while reading {what}: {}",
            status.message
        )),
        410 => Error::unavailable(format!("the watch of {what} expired (410 Gone); relisting")),
        code => Error::unavailable(format!(
            "the Kubernetes API answered {code} {} for {what}: {}",
            status.reason, status.message
        )),
    }
}

/// The error a watcher reported, as a call would see it.
pub(crate) fn describe_watch_error(what: &str, error: &watcher::Error) -> Error {
    const VERBS: &str = "list and watch";
    match error {
        watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            describe_api_error(what, VERBS, e)
        }
        watcher::Error::WatchError(status) => describe_status(what, VERBS, status),
        watcher::Error::NoResourceVersion => Error::unavailable(format!(
            "the Kubernetes API sent no resourceVersion for {what}; it cannot be watched"
        )),
    }
}
