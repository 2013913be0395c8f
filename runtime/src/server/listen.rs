//! Serving: the listeners, TLS handshakes and the HTTP/2 preface, the gRPC
//! services with health and reflection, the HTTP port, and the drain on shutdown.
//! Each accepted connection is then run by [`super::connection`].

use super::connection::{Connections, Http2Settings, Lifetime};
use super::http::{HttpState, serve_http};
use super::limits::AdmissionLayer;
use super::metrics::Metrics;
use super::preface::expect_preface;
use super::registry::Registry;
use super::service::{GeneratorService, Services, StoreService};
use super::{MAX_RESPONSE_BYTES, RunningProvider, Settings, Transport};
use crate::source::Source;
use crate::tls::TlsReloader;
use crate::{Error, Result};
use eso_proto::generator::v1::generator_provider_server::GeneratorProviderServer;
use eso_proto::provider::v1::secret_store_provider_server::SecretStoreProviderServer;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// h2's default: streams a client opened and reset before we accepted them.
const MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;

/// hyper's default, which tonic switches off unless set: streams we reset because
/// the client broke the protocol, before the connection is closed with GOAWAY.
const MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;

/// The request headers one call may send (grpc-go's default limit is 16 KiB).
const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;

/// Dead clients (a node gone, a cable pulled) are found by TCP keepalive, as a Go
/// server's listener does by default: probes after 30 s without traffic, every
/// 10 s, the connection dropped after 3 unanswered (about a minute). The server
/// sends no HTTP/2 pings of its own — grpc-go servers only do after two hours idle
/// — so no keep-alive timer is polled with every call; the clients' pings (ESO
/// core's, every 10 s) are answered as always.
const TCP_KEEPALIVE: socket2::TcpKeepalive = socket2::TcpKeepalive::new()
    .with_time(Duration::from_secs(30))
    .with_interval(Duration::from_secs(10))
    .with_retries(3);

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| Error::invalid_config(format!("cannot listen for {what} on {addr}: {error}")))
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr> {
    listener
        .local_addr()
        .map_err(|error| Error::internal(format!("listener address: {error}")))
}

/// A connection handed to the gRPC server: TLS done (or plaintext), HTTP/2 preface read.
type Accepted<T> = super::preface::Rewind<T>;

/// Accepts TCP connections and completes TLS handshakes off the accept loop, so a
/// slow client never holds up others. Each handshake uses the config in force when
/// it starts, so reloaded certificates apply to new connections at once.
fn tls_incoming(
    listener: TcpListener,
    reloader: Arc<TlsReloader>,
    allowed_clients: Arc<Vec<String>>,
    preface_timeout: Duration,
    stop: CancellationToken,
) -> tokio::sync::mpsc::Receiver<Accepted<tokio_rustls::server::TlsStream<TcpStream>>> {
    incoming(listener, stop, move |stream, peer| {
        let acceptor = tokio_rustls::TlsAcceptor::from(reloader.current());
        let allowed_clients = Arc::clone(&allowed_clients);
        async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => match client_identity_refusal(&tls, &allowed_clients) {
                    None => with_preface(tls, peer, preface_timeout).await,
                    Some(reason) => {
                        tracing::warn!(%peer, %reason, "client refused");
                        None
                    }
                },
                Ok(Err(error)) => {
                    tracing::info!(%peer, %error, "TLS handshake refused");
                    None
                }
                Err(_) => {
                    tracing::info!(%peer, "TLS handshake timed out");
                    None
                }
            }
        }
    })
}

/// Plaintext connections (debugging only), with the same HTTP/2 preface rule.
fn plaintext_incoming(
    listener: TcpListener,
    preface_timeout: Duration,
    stop: CancellationToken,
) -> tokio::sync::mpsc::Receiver<Accepted<TcpStream>> {
    incoming(listener, stop, move |stream, peer| {
        with_preface(stream, peer, preface_timeout)
    })
}

/// The HTTP/2 preface read from `io` in time, or `None` (logged) when it is not.
async fn with_preface<T: tokio::io::AsyncRead + Unpin>(
    io: T,
    peer: SocketAddr,
    preface_timeout: Duration,
) -> Option<Accepted<T>> {
    match expect_preface(io, preface_timeout).await {
        Ok(io) => Some(io),
        Err(error) => {
            tracing::info!(%peer, %error, "connection closed before HTTP/2");
            None
        }
    }
}

/// Accepts TCP connections until `stop` and runs `handshake` on each off the
/// accept loop; the connections it returns go to the gRPC server.
fn incoming<IO, F, Fut>(listener: TcpListener, stop: CancellationToken, handshake: F) -> tokio::sync::mpsc::Receiver<IO>
where
    IO: Send + 'static,
    F: Fn(TcpStream, SocketAddr) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<IO>> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.cancelled() => break,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            configure_accepted(&stream, peer);
            let sender = sender.clone();
            let connection = handshake(stream, peer);
            tokio::spawn(async move {
                if let Some(io) = connection.await {
                    let _ = sender.send(io).await;
                }
            });
        }
    });
    receiver
}

/// Socket options of an accepted connection: no Nagle delay, TCP keepalive.
fn configure_accepted(stream: &TcpStream, peer: SocketAddr) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%peer, %error, "TCP_NODELAY not set");
    }
    if let Err(error) = socket2::SockRef::from(stream).set_tcp_keepalive(&TCP_KEEPALIVE) {
        tracing::debug!(%peer, %error, "TCP keepalive not set");
    }
}

/// Hands accepted connections to `connections` until the drain, then waits until
/// every connection has ended.
async fn serve<IO, S>(
    mut accepted: tokio::sync::mpsc::Receiver<IO>,
    connections: Connections,
    service: S,
    drain: CancellationToken,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: tower_service::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Unpin + Send + 'static,
{
    loop {
        tokio::select! {
            io = accepted.recv() => match io {
                Some(io) => connections.serve(io, service.clone()),
                None => break,
            },
            _ = drain.cancelled() => break,
        }
    }
    drop(accepted);
    connections.closed().await;
}

/// Stops the helpers once the gRPC server has stopped.
async fn finish(
    reload_task: Option<tokio::task::JoinHandle<()>>,
    http_stop: CancellationToken,
    http_task: tokio::task::JoinHandle<()>,
) -> Result<()> {
    if let Some(task) = reload_task {
        task.abort();
    }
    http_stop.cancel();
    let _ = http_task.await;
    tracing::info!("stopped");
    Ok(())
}

/// Why a verified client certificate is still refused by `allowed_clients`, if it is.
fn client_identity_refusal(
    tls: &tokio_rustls::server::TlsStream<TcpStream>,
    allowed_clients: &[String],
) -> Option<String> {
    if allowed_clients.is_empty() {
        return None;
    }
    let Some(certificate) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) else {
        return Some("no client certificate".into());
    };
    let names = crate::tls::certificate_names(certificate);
    if names.iter().any(|name| allowed_clients.contains(name)) {
        None
    } else {
        Some(format!(
            "client certificate names [{}] are not among the allowed clients [{}]",
            names.join(", "),
            allowed_clients.join(", ")
        ))
    }
}

/// Turns health SERVING once the source is ready, unless shutdown came first.
async fn serving_once_ready(
    reporter: tonic_health::server::HealthReporter,
    served: Vec<&'static str>,
    source: Arc<dyn Source>,
    stop: CancellationToken,
) {
    while !source.is_ready() {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    if stop.is_cancelled() {
        return;
    }
    for service in served {
        reporter.set_service_status(service, ServingStatus::Serving).await;
    }
}

pub(crate) async fn start(registry: Registry, source: Arc<dyn Source>, settings: Settings) -> Result<RunningProvider> {
    let metrics = Arc::new(Metrics::new());
    let reloader = match &settings.transport {
        Transport::MutualTls {
            paths,
            expected,
            allowed_clients,
        } => {
            let (reloader, warnings) = TlsReloader::load(paths.clone(), expected.clone(), Arc::clone(&metrics))
                .map_err(|error| Error::invalid_config(format!("TLS: {error}")))?;
            for warning in warnings {
                tracing::warn!(%warning, "certificate check");
            }
            Some((Arc::new(reloader), Arc::new(allowed_clients.clone())))
        }
        Transport::InsecurePlaintext => {
            tracing::warn!(
                "serving gRPC WITHOUT TLS (--insecure-plaintext): any pod that can reach this port can read every secret; never use this in a cluster"
            );
            None
        }
    };
    let grpc_listener = bind(settings.grpc_addr, "gRPC").await?;
    let http_listener = bind(settings.http_addr, "metrics and health").await?;
    let grpc_addr = local_addr(&grpc_listener)?;
    let http_addr = local_addr(&http_listener)?;

    // Health: overall, and each service that has kinds registered.
    let mut served = vec![""];
    if !registry.store_kinds().is_empty() {
        served.push(eso_proto::SECRET_STORE_SERVICE);
    }
    if !registry.generator_kinds().is_empty() {
        served.push(eso_proto::GENERATOR_SERVICE);
    }
    let stop = CancellationToken::new();
    // NOT_SERVING until the source has loaded (e.g. the Kubernetes watch caches
    // have synced), as /readyz; then SERVING until shutdown.
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let initially = if source.is_ready() {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    for service in &served {
        health_reporter.set_service_status(*service, initially).await;
    }
    let health_ready = tokio::spawn(serving_once_ready(
        health_reporter.clone(),
        served.clone(),
        Arc::clone(&source),
        stop.clone(),
    ));
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(eso_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|error| Error::internal(format!("reflection service: {error}")))?;

    let services = Services {
        registry: Arc::new(registry),
        source: Arc::clone(&source),
        metrics: Arc::clone(&metrics),
    };
    let limits = settings.limits.clone();
    let routes = tonic::service::Routes::new(health_service)
        .add_service(reflection)
        .add_service(
            SecretStoreProviderServer::new(StoreService(services.clone()))
                .max_decoding_message_size(limits.max_request_bytes)
                .max_encoding_message_size(MAX_RESPONSE_BYTES),
        )
        .add_service(
            GeneratorProviderServer::new(GeneratorService(services))
                .max_decoding_message_size(limits.max_request_bytes)
                .max_encoding_message_size(MAX_RESPONSE_BYTES),
        )
        .prepare();
    let service = tower_layer::Layer::layer(&AdmissionLayer::new(limits.clone(), Arc::clone(&metrics)), routes);

    let ready = Arc::new(AtomicBool::new(true));
    let http_stop = CancellationToken::new();
    let http_task = tokio::spawn(serve_http(
        http_listener,
        HttpState {
            metrics: Arc::clone(&metrics),
            ready: Arc::clone(&ready),
            source,
        },
        http_stop.clone(),
    ));
    let reload_task = reloader.as_ref().map(|(r, _)| r.spawn(settings.reload_interval));

    // Streams per connection, advertised; h2's limits on reset streams kept on.
    // A connection's lifetime, as upstream's provider servers bound it.
    let drain = CancellationToken::new();
    let cut_off = CancellationToken::new();
    let connections = Connections::new(
        Http2Settings {
            max_concurrent_streams: limits.max_concurrent_streams,
            max_pending_accept_reset_streams: MAX_PENDING_ACCEPT_RESET_STREAMS,
            max_local_error_reset_streams: MAX_LOCAL_ERROR_RESET_STREAMS,
            max_header_list_bytes: MAX_HEADER_LIST_BYTES,
        },
        Lifetime {
            idle: limits.max_connection_idle,
            age: limits.max_connection_age,
            age_grace: limits.max_connection_age_grace,
        },
        drain.clone(),
        cut_off.clone(),
    );
    let task_stop = stop.clone();
    let task = tokio::spawn(async move {
        let serve: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> = match reloader {
            Some((reloader, allowed_clients)) => Box::pin(serve(
                tls_incoming(
                    grpc_listener,
                    reloader,
                    allowed_clients,
                    limits.preface_timeout,
                    drain.clone(),
                ),
                connections,
                service,
                drain.clone(),
            )),
            None => Box::pin(serve(
                plaintext_incoming(grpc_listener, limits.preface_timeout, drain.clone()),
                connections,
                service,
                drain.clone(),
            )),
        };
        tokio::pin!(serve);
        tokio::select! {
            () = &mut serve => {}
            _ = task_stop.cancelled() => {
                health_ready.abort();
                tracing::info!(grace_seconds = settings.shutdown_grace.as_secs_f64(), "shutting down: NOT_SERVING, draining in-flight calls");
                ready.store(false, Ordering::SeqCst);
                for service in &served {
                    health_reporter.set_service_status(*service, ServingStatus::NotServing).await;
                }
                if !settings.shutdown_delay.is_zero() {
                    // Keep serving while Kubernetes takes the pod out of the Service.
                    let delay = tokio::time::sleep(settings.shutdown_delay);
                    tokio::pin!(delay);
                    tokio::select! {
                        _ = &mut delay => {}
                        () = &mut serve => return finish(reload_task, http_stop, http_task).await,
                    }
                }
                // Stop accepting; every connection is sent GOAWAY and its calls finish.
                drain.cancel();
                if tokio::time::timeout(settings.shutdown_grace, &mut serve).await.is_err() {
                    tracing::warn!("grace period over with calls still running; they are cut off");
                    cut_off.cancel();
                    serve.await;
                }
            }
        }
        finish(reload_task, http_stop, http_task).await
    });
    Ok(RunningProvider {
        grpc_addr,
        http_addr,
        stop,
        metrics,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_connections_use_tcp_keepalive_and_no_delay() -> std::io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let _client = TcpStream::connect(address).await?;
        let (accepted, peer) = listener.accept().await?;
        let socket = socket2::SockRef::from(&accepted);
        assert!(!socket.keepalive()?, "keepalive is off until configured");
        configure_accepted(&accepted, peer);
        assert!(socket.keepalive()?);
        assert_eq!(socket.tcp_keepalive_time()?, Duration::from_secs(30));
        assert_eq!(socket.tcp_keepalive_interval()?, Duration::from_secs(10));
        assert_eq!(socket.tcp_keepalive_retries()?, 3);
        assert!(accepted.nodelay()?);
        Ok(())
    }
}
