//! Prometheus metrics, under the names upstream ESO uses.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectionLabels {
    reason: &'static str,
}

fn duration_histogram() -> Histogram {
    // 0.5 ms … ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The provider's metrics: `grpc_server_requests_total{method,status}`,
/// `grpc_server_request_duration_seconds{method}`,
/// `provider_certificate_hot_reload_total` and
/// `provider_certificate_hot_reload_failures_total`.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<MethodLabels, Histogram, fn() -> Histogram>,
    reloads: Counter,
    reload_failures: Counter,
    rejected: Family<RejectionLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<MethodLabels, Histogram, fn() -> Histogram>::new_with_constructor(duration_histogram);
        let reloads = Counter::default();
        let reload_failures = Counter::default();
        let rejected = Family::<RejectionLabels, Counter>::default();
        registry.register(
            "provider_requests_rejected",
            "Calls refused before reaching a handler because a limit was reached, by reason: in_flight, request_memory, request_body_timeout",
            rejected.clone(),
        );
        registry.register(
            "grpc_server_requests",
            "gRPC requests handled, by method and status code",
            requests.clone(),
        );
        registry.register(
            "grpc_server_request_duration_seconds",
            "Time to handle a gRPC request, by method",
            durations.clone(),
        );
        registry.register(
            "provider_certificate_hot_reload",
            "Certificate sets reloaded without restart",
            reloads.clone(),
        );
        registry.register(
            "provider_certificate_hot_reload_failures",
            "Certificate sets that failed to load; the previous set stayed in use",
            reload_failures.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            reloads,
            reload_failures,
            rejected,
        }
    }

    pub(crate) fn request_rejected(&self, reason: crate::limits::Rejection) {
        self.rejected
            .get_or_create(&RejectionLabels { reason: reason.label() })
            .inc();
    }

    /// Calls refused so far because a limit was reached, for one reason
    /// (`in_flight`, `request_memory` or `request_body_timeout`).
    pub fn requests_rejected(&self, reason: &str) -> u64 {
        [
            crate::limits::Rejection::InFlight,
            crate::limits::Rejection::RequestMemory,
            crate::limits::Rejection::RequestBodyTimeout,
        ]
        .into_iter()
        .find(|r| r.label() == reason)
        .map_or(0, |r| {
            self.rejected
                .get_or_create(&RejectionLabels { reason: r.label() })
                .get()
        })
    }

    /// Records one handled request.
    pub fn observe_request(&self, method: &str, code: tonic::Code, elapsed: Duration) {
        let status = match code {
            tonic::Code::Ok => "OK".to_string(),
            other => format!("{other:?}"),
        };
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                status,
            })
            .inc();
        self.durations
            .get_or_create(&MethodLabels {
                method: method.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn certificate_reloaded(&self) {
        self.reloads.inc();
    }

    pub(crate) fn certificate_reload_failed(&self) {
        self.reload_failures.inc();
    }

    /// Certificate sets reloaded so far.
    pub fn certificate_reloads(&self) -> u64 {
        self.reloads.get()
    }

    /// Certificate sets that failed to load so far.
    pub fn certificate_reload_failures(&self) -> u64 {
        self.reload_failures.get()
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "encoding metrics");
        }
        out
    }
}
