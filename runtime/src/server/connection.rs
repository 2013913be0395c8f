//! One connection's life, once its TLS handshake and HTTP/2 preface are done:
//! served by hyper's HTTP/2 server with the server's settings, and asked to go
//! away (`GOAWAY`, then the calls in flight finish) when it has had no call for
//! [`Lifetime::idle`], when it reaches [`Lifetime::age`], or when the server
//! drains — as upstream's grpc-go provider servers do with `MaxConnectionIdle`,
//! `MaxConnectionAge` and `MaxConnectionAgeGrace`. Past its age's grace, or when
//! the server's shutdown grace is over, the connection is closed under whatever
//! still runs.
//!
//! (tonic's own server has no idle limit and closes a connection at age + grace
//! without the `GOAWAY` at the age; so the runtime runs its connections itself.)

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::body::Body;

/// When a connection is sent away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lifetime {
    /// `GOAWAY` after this long without a call in flight; `None`: never.
    pub(crate) idle: Option<Duration>,
    /// `GOAWAY` this long after the connection was accepted; `None`: never.
    pub(crate) age: Option<Duration>,
    /// How long calls in flight may still take after the `GOAWAY` at the age,
    /// before the connection is closed.
    pub(crate) age_grace: Duration,
}

/// The HTTP/2 settings of every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Http2Settings {
    /// Advertised in `SETTINGS_MAX_CONCURRENT_STREAMS`.
    pub(crate) max_concurrent_streams: u32,
    /// Streams a client opened and reset before they were accepted (h2's limit).
    pub(crate) max_pending_accept_reset_streams: usize,
    /// Streams reset because the client broke the protocol, before `GOAWAY`.
    pub(crate) max_local_error_reset_streams: usize,
    /// The request headers one call may send.
    pub(crate) max_header_list_bytes: u32,
}

/// Serves accepted connections and keeps track of them until they have all ended.
pub(crate) struct Connections {
    builder: hyper::server::conn::http2::Builder<hyper_util::rt::TokioExecutor>,
    lifetime: Lifetime,
    /// Cancelled when the server drains: every connection is sent `GOAWAY`.
    drain: CancellationToken,
    /// Cancelled when the drain's grace is over: every connection is closed.
    cut_off: CancellationToken,
    tasks: TaskTracker,
}

impl Connections {
    pub(crate) fn new(
        http2: Http2Settings,
        lifetime: Lifetime,
        drain: CancellationToken,
        cut_off: CancellationToken,
    ) -> Self {
        let mut builder = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .max_concurrent_streams(http2.max_concurrent_streams)
            .max_pending_accept_reset_streams(http2.max_pending_accept_reset_streams)
            .max_local_error_reset_streams(http2.max_local_error_reset_streams)
            .max_header_list_size(http2.max_header_list_bytes);
        Connections {
            builder,
            lifetime,
            drain,
            cut_off,
            tasks: TaskTracker::new(),
        }
    }

    /// Serves `io` with `service` on a task of its own.
    pub(crate) fn serve<IO, S>(&self, io: IO, service: S)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
        S: tower_service::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let service = hyper_util::service::TowerToHyperService::new(Tracked {
            inner: service,
            activity: Arc::clone(&activity),
        });
        let connection = self.builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
        let ends = Ends {
            lifetime: self.lifetime,
            activity,
            drain: self.drain.clone(),
            cut_off: self.cut_off.clone(),
        };
        self.tasks.spawn(ends.run(connection));
    }

    /// Waits until every connection served so far has ended.
    pub(crate) async fn closed(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// Why a connection is sent `GOAWAY` (logged).
#[derive(Debug, Clone, Copy)]
enum GoAway {
    Idle,
    Age,
    Drain,
}

/// What ends one connection, and when.
struct Ends {
    lifetime: Lifetime,
    activity: Arc<Activity>,
    drain: CancellationToken,
    cut_off: CancellationToken,
}

impl Ends {
    async fn run<C, E>(self, connection: C)
    where
        C: GracefulConnection<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        let mut connection = std::pin::pin!(connection);
        let opened = self.activity.opened;
        let age_at = self.lifetime.age.map(|age| opened + age);
        let mut idle_check_at = self.lifetime.idle.map(|idle| opened + idle);
        let mut sent_away = false;
        let mut closes_at: Option<Instant> = None;
        loop {
            let go_away = tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    return;
                }
                _ = self.cut_off.cancelled() => return,
                _ = at(closes_at) => {
                    tracing::debug!("connection closed: past its maximum age and the grace for calls in flight");
                    return;
                }
                _ = self.drain.cancelled(), if !sent_away => GoAway::Drain,
                _ = at(age_at), if !sent_away => {
                    closes_at = age_at.map(|at| at + self.lifetime.age_grace);
                    GoAway::Age
                }
                _ = at(idle_check_at), if !sent_away => {
                    let Some(idle) = self.lifetime.idle else { continue };
                    match self.activity.idle_until(idle) {
                        Some(until) if until <= Instant::now() => GoAway::Idle,
                        Some(until) => { idle_check_at = Some(until); continue }
                        None => { idle_check_at = Some(Instant::now() + idle); continue }
                    }
                }
            };
            tracing::debug!(reason = ?go_away, "connection sent GOAWAY");
            sent_away = true;
            connection.as_mut().graceful_shutdown();
        }
    }
}

/// Sleeps until `deadline`; never, without one.
async fn at(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// A connection that can be asked to finish its streams and close (hyper's
/// HTTP/2 server connection; a stand-in in the unit tests).
trait GracefulConnection: Future {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, E, B> GracefulConnection for hyper::server::conn::http2::Connection<I, S, E>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: http_body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper::server::conn::http2::Connection::graceful_shutdown(self);
    }
}

/// Calls in flight on one connection, and since when it has had none.
struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `opened` when the last call in flight ended.
    idle_since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
        }
    }

    fn started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(self))
    }

    /// When the connection will have been `idle` long without a call, if no
    /// call starts before; `None` while calls are in flight.
    fn idle_until(&self, idle: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire));
        Some(self.opened + since + idle)
    }
}

/// One call in flight; its end is counted when dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        let now = u64::try_from(activity.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        activity.idle_since_ms.store(now, Ordering::Release);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The gRPC service of one connection: counts its calls in flight.
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> tower_service::Service<http::Request<hyper::body::Incoming>> for Tracked<S>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = TrackedCall<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<hyper::body::Incoming>) -> Self::Future {
        let in_flight = self.activity.started();
        TrackedCall {
            call: self.inner.call(request.map(Body::new)),
            _in_flight: in_flight,
        }
    }
}

/// A call's future, with its place among the calls in flight.
struct TrackedCall<F> {
    call: F,
    _in_flight: InFlight,
}

impl<F: Future + Unpin> Future for TrackedCall<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        Pin::new(&mut self.call).poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A connection that ends when told to go away, after `finishing` (its calls in
    /// flight), or never when `finishing` is `None`; records when it was sent away.
    struct StandIn {
        finishing: Option<Duration>,
        ends: Option<Pin<Box<tokio::time::Sleep>>>,
        sent_away: Arc<Mutex<Vec<Instant>>>,
    }

    impl Future for StandIn {
        type Output = Result<(), String>;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            match self.ends.as_mut() {
                Some(ends) => ends.as_mut().poll(cx).map(Ok),
                None => Poll::Pending,
            }
        }
    }

    impl GracefulConnection for StandIn {
        fn graceful_shutdown(mut self: Pin<&mut Self>) {
            if let Ok(mut sent) = self.sent_away.lock() {
                sent.push(Instant::now());
            }
            if let Some(finishing) = self.finishing {
                self.ends = Some(Box::pin(tokio::time::sleep(finishing)));
            }
        }
    }

    struct Run {
        sent_away: Arc<Mutex<Vec<Instant>>>,
        activity: Arc<Activity>,
        drain: CancellationToken,
        cut_off: CancellationToken,
        task: tokio::task::JoinHandle<()>,
        started: Instant,
    }

    fn run(lifetime: Lifetime, finishing: Option<Duration>) -> Run {
        let sent_away = Arc::new(Mutex::new(Vec::new()));
        let activity = Arc::new(Activity::new());
        let (drain, cut_off) = (CancellationToken::new(), CancellationToken::new());
        let ends = Ends {
            lifetime,
            activity: Arc::clone(&activity),
            drain: drain.clone(),
            cut_off: cut_off.clone(),
        };
        let connection = StandIn {
            finishing,
            ends: None,
            sent_away: Arc::clone(&sent_away),
        };
        Run {
            sent_away,
            activity,
            drain,
            cut_off,
            task: tokio::spawn(ends.run(connection)),
            started: Instant::now(),
        }
    }

    impl Run {
        fn sent_away_after(&self) -> Vec<Duration> {
            let sent = self.sent_away.lock().map(|s| s.clone()).unwrap_or_default();
            sent.iter().map(|at| *at - self.started).collect()
        }
    }

    const NEVER: Lifetime = Lifetime {
        idle: None,
        age: None,
        age_grace: Duration::from_secs(30),
    };

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_is_sent_away_once_idle_for_the_limit() {
        let lifetime = Lifetime {
            idle: Some(Duration::from_secs(900)),
            ..NEVER
        };
        let mut run = run(lifetime, Some(Duration::ZERO));
        tokio::time::sleep(Duration::from_secs(899)).await;
        assert!(run.sent_away_after().is_empty(), "not before 15 minutes");
        assert!(!run.task.is_finished());
        (&mut run.task).await.ok();
        assert_eq!(run.sent_away_after(), vec![Duration::from_secs(900)]);
    }

    #[tokio::test(start_paused = true)]
    async fn calls_in_flight_and_recent_calls_keep_a_connection() {
        let lifetime = Lifetime {
            idle: Some(Duration::from_secs(900)),
            ..NEVER
        };
        let mut run = run(lifetime, Some(Duration::ZERO));
        // A call from minute 10 to minute 20: in flight at the first check.
        tokio::time::sleep(Duration::from_secs(600)).await;
        let call = run.activity.started();
        tokio::time::sleep(Duration::from_secs(600)).await;
        drop(call);
        // Idle from minute 20: sent away at minute 35, not before.
        tokio::time::sleep(Duration::from_secs(899)).await;
        assert!(run.sent_away_after().is_empty(), "idle only since minute 20");
        (&mut run.task).await.ok();
        let sent = run.sent_away_after();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(
            sent[0] >= Duration::from_secs(2100) && sent[0] <= Duration::from_secs(2101),
            "{sent:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn at_its_age_a_connection_is_sent_away_then_closed_after_the_grace() {
        let lifetime = Lifetime {
            age: Some(Duration::from_secs(1800)),
            age_grace: Duration::from_secs(30),
            ..NEVER
        };
        // Its calls never finish: closed at age + grace.
        let run = run(lifetime, None);
        let _call = run.activity.started();
        tokio::time::sleep(Duration::from_secs(1829)).await;
        assert_eq!(run.sent_away_after(), vec![Duration::from_secs(1800)]);
        assert!(!run.task.is_finished(), "open during the grace");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(run.task.is_finished(), "closed at the end of the grace");
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_whose_calls_finish_ends_before_its_grace() {
        let lifetime = Lifetime {
            age: Some(Duration::from_secs(10)),
            age_grace: Duration::from_secs(30),
            ..NEVER
        };
        let run = run(lifetime, Some(Duration::from_secs(2)));
        tokio::time::sleep(Duration::from_secs(13)).await;
        assert!(run.task.is_finished(), "ended when its calls did, 2 s after the GOAWAY");
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_sends_every_connection_away_once_and_the_cut_off_closes_it() {
        let lifetime = Lifetime {
            idle: Some(Duration::from_secs(5)),
            age: Some(Duration::from_secs(10)),
            age_grace: Duration::from_secs(600),
        };
        let run = run(lifetime, None);
        tokio::time::sleep(Duration::from_secs(1)).await;
        run.drain.cancel();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(
            run.sent_away_after(),
            vec![Duration::from_secs(1)],
            "one GOAWAY: neither the idle limit nor the age sends another"
        );
        assert!(!run.task.is_finished(), "calls in flight keep it open");
        run.cut_off.cancel();
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(run.task.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn without_limits_a_connection_stays() {
        let run = run(NEVER, Some(Duration::ZERO));
        tokio::time::sleep(Duration::from_secs(365 * 24 * 3600)).await;
        assert!(run.sent_away_after().is_empty());
        assert!(!run.task.is_finished());
    }
}
