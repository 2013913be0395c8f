//! What one caller can make the gRPC server hold, bounded: the admission layer
//! (in-flight calls, request memory, body timeouts) and the limits it enforces
//! ([`Limits`], documented there).

use super::metrics::Metrics;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;
use tonic::body::Body;

/// The first bytes of every HTTP/2 connection (RFC 9113, section 3.4).
pub(crate) const HTTP2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Bytes of each request that are not counted against [`Limits::request_memory`].
pub const FREE_REQUEST_BYTES: usize = 16 * 1024;

/// Overload is answered, not queued: what one caller can make the gRPC server hold.
///
/// Whoever holds a client certificate chooses how many streams to open, how big
/// their requests are and how slowly they arrive. The server bounds each:
///
/// | what | limit ([`Limits`] field, flag) | when it is reached |
/// | --- | --- | --- |
/// | streams per connection | `max_concurrent_streams`, `--max-concurrent-streams` (128) | advertised in `SETTINGS_MAX_CONCURRENT_STREAMS`; HTTP/2 refuses more (`REFUSED_STREAM`) |
/// | calls in flight, all connections | `max_in_flight`, `--max-in-flight-calls` (512) | answered at once with `RESOURCE_EXHAUSTED`, counted in `provider_requests_rejected_total{reason="in_flight"}` |
/// | one request message | `max_request_bytes` (4 MiB, what ESO core's grpc-go sends at most) | `OUT_OF_RANGE` |
/// | request bytes held, all calls | `request_memory`, `--max-request-memory` (16 MiB; the first 16 KiB of each request are not counted, so small calls always fit) | `RESOURCE_EXHAUSTED`, `reason="request_memory"` |
/// | time for a request body to arrive | `request_body_timeout`, `--request-body-timeout` (10 s) | `DEADLINE_EXCEEDED`, `reason="request_body_timeout"` |
/// | time from TLS to the HTTP/2 preface | `preface_timeout`, `--http2-preface-timeout` (10 s) | connection closed |
/// | reset streams | h2's limits on pending-accept (20) and locally reset (1024) streams | `GOAWAY` |
/// | a connection without calls | `max_connection_idle`, `--max-connection-idle` (15 min, as upstream's provider servers) | `GOAWAY` once no call has been in flight for that long; ESO core opens a new connection when it next calls |
/// | a call's time | the caller's `grpc-timeout` | `DEADLINE_EXCEEDED`; the call's work is dropped |
/// | a connection's lifetime | `max_connection_age`, `--max-connection-age` (30 min, as upstream's provider servers) | `GOAWAY`; calls in flight get `max_connection_age_grace`, `--max-connection-age-grace` (30 s, ESO core's call deadline), then the connection is closed. ESO core reconnects, which also spreads its connections over new replicas |
///
/// Health checks (`grpc.health.v1.Health`) are not counted against the in-flight
/// limit, so a provider under load still answers its probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Streams one connection may have open at once (advertised to the client).
    pub max_concurrent_streams: u32,
    /// Calls being handled at once over all connections; more are refused at once.
    pub max_in_flight: usize,
    /// The largest request message accepted.
    pub max_request_bytes: usize,
    /// Request bytes all calls in flight may hold together, beyond the first
    /// [`FREE_REQUEST_BYTES`] of each.
    pub request_memory: usize,
    /// How long a request's body may take to arrive.
    pub request_body_timeout: Duration,
    /// How long a connection may take, after its TLS handshake, to start HTTP/2.
    pub preface_timeout: Duration,
    /// After this long without a call in flight a connection is asked to go away
    /// (`GOAWAY`); `None`: never.
    pub max_connection_idle: Option<Duration>,
    /// After this long a connection is asked to go away (`GOAWAY`); `None`: never.
    pub max_connection_age: Option<Duration>,
    /// How long calls in flight on a connection past its age may still take before
    /// it is closed.
    pub max_connection_age_grace: Duration,
}

/// ESO core (grpc-go) sends at most 4 MiB per message.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_concurrent_streams: 128,
            max_in_flight: 512,
            max_request_bytes: MAX_REQUEST_BYTES,
            request_memory: 16 * 1024 * 1024,
            request_body_timeout: Duration::from_secs(10),
            preface_timeout: Duration::from_secs(10),
            max_connection_idle: Some(Duration::from_secs(15 * 60)),
            max_connection_age: Some(Duration::from_secs(30 * 60)),
            max_connection_age_grace: Duration::from_secs(30),
        }
    }
}

/// Why a call was refused before it reached a handler (the metric's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    InFlight,
    RequestMemory,
    RequestBodyTimeout,
}

impl Rejection {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Rejection::InFlight => "in_flight",
            Rejection::RequestMemory => "request_memory",
            Rejection::RequestBodyTimeout => "request_body_timeout",
        }
    }
}

struct Admission {
    limits: Limits,
    in_flight: Arc<Semaphore>,
    memory: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

/// The tower layer that applies the in-flight, memory and body-time limits.
#[derive(Clone)]
pub(crate) struct AdmissionLayer(Arc<Admission>);

impl AdmissionLayer {
    pub(crate) fn new(limits: Limits, metrics: Arc<Metrics>) -> Self {
        AdmissionLayer(Arc::new(Admission {
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            memory: Arc::new(Semaphore::new(limits.request_memory.min(Semaphore::MAX_PERMITS))),
            limits,
            metrics,
        }))
    }
}

impl<S> tower_layer::Layer<S> for AdmissionLayer {
    type Service = Admit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Admit {
            inner,
            admission: Arc::clone(&self.0),
        }
    }
}

/// The service [`AdmissionLayer`] wraps around the gRPC routes.
#[derive(Clone)]
pub(crate) struct Admit<S> {
    inner: S,
    admission: Arc<Admission>,
}

/// The request bytes a call holds: released when both the body and the call are done.
type HeldMemory = Arc<Mutex<Option<OwnedSemaphorePermit>>>;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S> tower_service::Service<http::Request<Body>> for Admit<S>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let admission = Arc::clone(&self.admission);
        let counted = !request.uri().path().starts_with("/grpc.health.v1.Health/");
        let permit = if counted {
            match Arc::clone(&admission.in_flight).try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    admission.metrics.request_rejected(Rejection::InFlight);
                    let status = Status::resource_exhausted(format!(
                        "the provider is handling its limit of {} calls; retry later",
                        admission.limits.max_in_flight
                    ));
                    return Box::pin(std::future::ready(Ok(status.into_http())));
                }
            }
        } else {
            None
        };
        let deadline = request
            .headers()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| crate::blocking::grpc_deadline(value, Instant::now()));
        let held: HeldMemory = Arc::new(Mutex::new(None));
        let request = request.map(|body| {
            Body::new(LimitedBody {
                inner: body,
                admission: Arc::clone(&admission),
                held: Arc::clone(&held),
                received: 0,
                started: Instant::now(),
                timer: None,
            })
        });
        // The clone that was readied is the one called (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let call = inner.call(request);
            let response = match deadline {
                None => call.await,
                // Work the caller no longer waits for is dropped at its deadline.
                Some(deadline) => match tokio::time::timeout_at(deadline.into(), call).await {
                    Ok(response) => response,
                    Err(_) => Ok(deadline_passed()),
                },
            };
            drop(held);
            drop(permit);
            response
        })
    }
}

/// The answer to a call whose `grpc-timeout` passed before it was done.
fn deadline_passed() -> http::Response<Body> {
    Status::deadline_exceeded("the call's deadline (grpc-timeout) passed before it was answered").into_http()
}

/// A request body that counts its bytes against the limits and must arrive in time.
struct LimitedBody {
    inner: Body,
    admission: Arc<Admission>,
    held: HeldMemory,
    received: usize,
    started: Instant,
    /// Made only when the body is not all there at the first look.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl LimitedBody {
    fn account(&mut self, bytes: usize) -> Result<(), Status> {
        let before = self.received;
        self.received = self.received.saturating_add(bytes);
        let limits = &self.admission.limits;
        // The gRPC frame header (5 bytes) comes on top of the message.
        if self.received > limits.max_request_bytes.saturating_add(5) {
            return Err(Status::out_of_range(format!(
                "the request is larger than the limit of {} bytes",
                limits.max_request_bytes
            )));
        }
        let counted = self.received.saturating_sub(FREE_REQUEST_BYTES) - before.saturating_sub(FREE_REQUEST_BYTES);
        if counted == 0 {
            return Ok(());
        }
        let permits = u32::try_from(counted).unwrap_or(u32::MAX);
        match Arc::clone(&self.admission.memory).try_acquire_many_owned(permits) {
            Ok(permit) => {
                if let Ok(mut held) = self.held.lock() {
                    match held.as_mut() {
                        Some(all) => all.merge(permit),
                        None => *held = Some(permit),
                    }
                }
                Ok(())
            }
            Err(_) => {
                self.admission.metrics.request_rejected(Rejection::RequestMemory);
                Err(Status::resource_exhausted(format!(
                    "the provider holds its limit of {} bytes of requests in flight; retry later",
                    limits.request_memory
                )))
            }
        }
    }
}

impl HttpBody for LimitedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && let Err(status) = this.account(data.len())
                {
                    return Poll::Ready(Some(Err(status)));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other @ Poll::Ready(_) => other,
            Poll::Pending => {
                let timeout = this.admission.limits.request_body_timeout;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until((this.started + timeout).into())));
                if timer.as_mut().poll(cx).is_ready() {
                    this.admission.metrics.request_rejected(Rejection::RequestBodyTimeout);
                    return Poll::Ready(Some(Err(Status::deadline_exceeded(format!(
                        "the request body did not arrive within {} s",
                        timeout.as_secs_f64()
                    )))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
