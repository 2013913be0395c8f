//! Memory under attack, against the provider process: raw HTTP/2 (`h2`) over the
//! same mutual TLS as ESO core's client, on one connection, (a) many streams each
//! sending a large request body that never finishes, (b) many concurrent calls to
//! a slow backend. Each attack has a fresh process, a time limit and a memory cap;
//! it reports the provider's memory and what became of every stream.

use super::process::{Memory, Provider};
use super::servers::code_name;
use bytes::{BufMut, Bytes, BytesMut};
use eso_runtime::client::ClientTls;
use h2::client::{ResponseFuture, SendRequest};
use prost::Message;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// How much to send per flow-control grant.
const CHUNK: usize = 256 * 1024;

/// How the attack section measures.
#[derive(Debug, Clone)]
pub struct Settings {
    /// (a): streams opened on one connection.
    pub streams: usize,
    /// (a): each stream's body, announced in its gRPC frame and sent but for its last byte.
    pub body_bytes: usize,
    /// (b): calls opened on one connection.
    pub calls: usize,
    /// (b): the backend's latency (the `Fake` object's `spec.latency`), to keep calls in flight.
    pub latency: &'static str,
    /// Each attack stops after this long.
    pub limit: Duration,
    /// Each attack stops once the provider holds this much (KiB).
    pub rss_cap_kib: u64,
    /// How long the provider is left alone after the connection closed.
    pub settle: Duration,
}

/// What one attack did to the provider.
#[derive(Debug, Clone)]
pub struct Report {
    /// What the attack was.
    pub name: String,
    /// Before the attack.
    pub before: Memory,
    /// At the end of the attack (`hwm_kib` is the peak).
    pub during: Memory,
    /// A while (`settle`) after the connection closed.
    pub after: Memory,
    /// Streams asked for.
    pub attempted: usize,
    /// Streams opened (the server's SETTINGS let the client open them).
    pub opened: usize,
    /// (a): streams whose whole body the server took in (flow control granted).
    pub fully_sent: usize,
    /// Request bytes the server took in.
    pub bytes_sent: u64,
    /// How streams ended: gRPC code, HTTP/2 reset reason, or error.
    pub outcomes: BTreeMap<String, usize>,
    /// Most calls open at once (client side).
    pub peak_in_flight: usize,
    /// Whether the time limit or the memory cap ended it.
    pub stopped_by: &'static str,
    /// How long it ran.
    pub elapsed: Duration,
    /// A GetSecret on a new connection afterwards: its latency, or why it failed.
    pub serving_after: Result<Duration, String>,
}

impl Report {
    /// Streams that got an answer or a reset.
    pub fn answered(&self) -> usize {
        self.outcomes.values().sum()
    }
}

/// Shared counters of one attack.
#[derive(Default)]
struct Tally {
    opened: AtomicUsize,
    fully_sent: AtomicUsize,
    bytes: AtomicU64,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    outcomes: Mutex<BTreeMap<String, usize>>,
}

impl Tally {
    fn record(&self, outcome: String) {
        if let Ok(mut outcomes) = self.outcomes.lock() {
            *outcomes.entry(outcome).or_default() += 1;
        }
    }

    fn answered(&self) -> usize {
        self.outcomes.lock().map(|o| o.values().sum()).unwrap_or(0)
    }

    fn open(&self) {
        self.opened.fetch_add(1, Ordering::Relaxed);
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::Relaxed);
    }

    fn close(&self, outcome: String) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.record(outcome);
    }
}

/// ESO core's side of mutual TLS, as a rustls client configuration offering `h2`.
fn client_config(tls: &ClientTls) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&tls.ca_pem) {
        roots
            .add(certificate.map_err(|e| format!("CA: {e}"))?)
            .map_err(|e| format!("CA: {e}"))?;
    }
    let chain = CertificateDer::pem_slice_iter(&tls.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("client certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(&tls.key_pem).map_err(|e| format!("client key: {e}"))?;
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("client certificate: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// One HTTP/2 connection over mutual TLS to the provider; the connection runs in
/// the returned task.
async fn connect(provider: &Provider) -> Result<(SendRequest<Bytes>, tokio::task::JoinHandle<()>), String> {
    let (host, port) = eso_runtime::client::split_address(&provider.address).map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from(host).map_err(|e| format!("server name: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(&provider.tls()?)?));
    let stream = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
    // Generous receive limits, so that the answers to thousands of calls at once
    // never trip this client's own protections (h2's small-DATA-frame budget):
    // what is measured is the server.
    let (send, connection) = h2::client::Builder::new()
        .initial_window_size(1 << 20)
        .initial_connection_window_size(64 << 20)
        .data_frame_budget(1 << 30)
        .handshake::<_, Bytes>(stream)
        .await
        .map_err(|e| format!("HTTP/2 handshake: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((send, driver))
}

/// A GetSecret request's headers, as grpc-go sends them.
fn request_head(address: &str) -> Result<http::Request<()>, String> {
    http::Request::builder()
        .method("POST")
        .uri(format!("https://{address}/provider.v1.SecretStoreProvider/GetSecret"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .map_err(|e| format!("request: {e}"))
}

/// A gRPC frame header: not compressed, `length` bytes follow.
fn frame_header(length: usize) -> Bytes {
    let mut header = BytesMut::with_capacity(5);
    header.put_u8(0);
    header.put_u32(u32::try_from(length).unwrap_or(u32::MAX));
    header.freeze()
}

fn reason(error: &h2::Error) -> String {
    let by = if error.is_remote() { "" } else { " (client side)" };
    match error.reason() {
        Some(reason) if error.is_go_away() => format!("GOAWAY {reason:?}{by}"),
        Some(reason) => format!("{reason:?}{by}"),
        None if error.is_io() => "connection error".into(),
        None => format!("HTTP/2 error: {error}"),
    }
}

fn grpc_status(headers: &http::HeaderMap) -> Option<String> {
    let code: i32 = headers.get("grpc-status")?.to_str().ok()?.parse().ok()?;
    Some(code_name(tonic::Code::from_i32(code)).to_string())
}

/// How a stream ended: its gRPC status, its reset reason, or the error.
async fn outcome(response: ResponseFuture) -> String {
    let response = match response.await {
        Ok(response) => response,
        Err(error) => return reason(&error),
    };
    if let Some(status) = grpc_status(response.headers()) {
        return status;
    }
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        match chunk {
            Ok(chunk) => {
                let _ = body.flow_control().release_capacity(chunk.len());
            }
            Err(error) => return reason(&error),
        }
    }
    match body.trailers().await {
        Ok(Some(trailers)) => grpc_status(&trailers).unwrap_or_else(|| "no grpc-status".into()),
        Ok(None) => "no trailers".into(),
        Err(error) => reason(&error),
    }
}

/// Sends `data` as flow control allows, never buffering more than granted.
async fn send_granted(stream: &mut h2::SendStream<Bytes>, mut data: Bytes, tally: &Tally) -> Result<(), String> {
    while !data.is_empty() {
        stream.reserve_capacity(data.len().min(CHUNK));
        let granted = match std::future::poll_fn(|cx| stream.poll_capacity(cx)).await {
            Some(Ok(granted)) => granted,
            Some(Err(error)) => return Err(reason(&error)),
            None => return Err("stream closed".into()),
        };
        let n = granted.min(data.len());
        if n == 0 {
            continue;
        }
        stream.send_data(data.split_to(n), false).map_err(|e| reason(&e))?;
        tally.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// Waits until `done` says so, the limit passes or the provider holds more than the cap.
async fn watch(provider: &Provider, settings: &Settings, started: Instant, done: impl Fn() -> bool) -> &'static str {
    loop {
        if done() {
            // Let the server take in what it was sent.
            tokio::time::sleep(Duration::from_millis(300)).await;
            return "completion";
        }
        if started.elapsed() >= settings.limit {
            return "time limit";
        }
        if provider.memory().is_ok_and(|m| m.rss_kib >= settings.rss_cap_kib) {
            return "memory cap";
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// After an attack: closes the connection, lets the provider settle, checks it still serves.
async fn finish(
    settings: &Settings,
    provider: &mut Provider,
    driver: tokio::task::JoinHandle<()>,
    mut tasks: JoinSet<()>,
) -> (Memory, Result<Duration, String>) {
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    driver.abort();
    let _ = driver.await;
    tokio::time::sleep(settings.settle).await;
    let after = provider.memory().unwrap_or_default();
    if std::env::var("BENCH_VERBOSE").is_ok_and(|v| v == "1") {
        let log = provider.log();
        let lines: Vec<&str> = log.lines().collect();
        eprintln!(
            "provider log, last lines:\n{}",
            lines[lines.len().saturating_sub(20)..].join("\n")
        );
    }
    let serving = if provider.alive() {
        let started = Instant::now();
        match tokio::time::timeout(Duration::from_secs(10), async {
            let mut client = provider.client().await?;
            let request = super::servers::get_request();
            super::servers::call(&mut client, &request, "provider").await
        })
        .await
        {
            Ok(Ok(())) => Ok(started.elapsed()),
            Ok(Err(error)) => Err(error),
            Err(_) => Err("no answer within 10 s".into()),
        }
    } else {
        Err("the provider process died".into())
    };
    (after, serving)
}

/// (a) `streams` streams on one connection, each announcing a `body_bytes` message
/// and sending all of it but the last byte, never ending the stream.
pub async fn slow_bodies(settings: &Settings) -> Result<Report, String> {
    let mut provider = Provider::start(&super::servers::bench_manifest()).await?;
    let before = provider.memory()?;
    let (mut send, driver) = connect(&provider).await?;
    let tally = Arc::new(Tally::default());
    let payload = Bytes::from(vec![b'x'; settings.body_bytes.saturating_sub(1)]);
    let header = frame_header(settings.body_bytes);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + settings.limit;
    let mut tasks = JoinSet::new();
    for _ in 0..settings.streams {
        send = match tokio::time::timeout_at(deadline, send.ready()).await {
            Ok(Ok(send)) => send,
            Ok(Err(error)) => {
                tally.record(format!("not opened: {}", reason(&error)));
                break;
            }
            Err(_) => break,
        };
        let (response, mut stream) = match send.send_request(request_head(&provider.address)?, false) {
            Ok(opened) => opened,
            Err(error) => {
                tally.record(format!("not opened: {}", reason(&error)));
                break;
            }
        };
        tally.open();
        let tally = Arc::clone(&tally);
        let (header, payload) = (header.clone(), payload.clone());
        tasks.spawn(async move {
            let sending = async {
                send_granted(&mut stream, header, &tally).await?;
                send_granted(&mut stream, payload, &tally).await?;
                tally.fully_sent.fetch_add(1, Ordering::Relaxed);
                // Never end the stream: keep it open until the server answers.
                std::future::pending::<()>().await;
                Ok::<_, String>(())
            };
            let answer = outcome(response);
            tokio::pin!(answer);
            tokio::select! {
                answered = &mut answer => tally.close(answered),
                Err(error) = sending => {
                    // Reset while sending: the response says why, if it comes.
                    let answered = tokio::time::timeout(Duration::from_secs(1), answer).await.unwrap_or(error);
                    tally.close(answered);
                }
            }
        });
    }
    let streams = settings.streams;
    let done = || {
        tally.opened.load(Ordering::Relaxed) >= streams
            && tally.fully_sent.load(Ordering::Relaxed) + tally.answered() >= streams
    };
    let stopped_by = watch(&provider, settings, started, done).await;
    let during = provider.memory()?;
    let elapsed = started.elapsed();
    let (after, serving_after) = finish(settings, &mut provider, driver, tasks).await;
    let outcomes = tally.outcomes.lock().map(|o| o.clone()).unwrap_or_default();
    Ok(Report {
        name: format!(
            "(a) {} streams × {} MiB body that never finishes",
            super::markdown::thousands(settings.streams as u64),
            settings.body_bytes as f64 / (1 << 20) as f64
        ),
        before,
        during,
        after,
        attempted: settings.streams,
        opened: tally.opened.load(Ordering::Relaxed),
        fully_sent: tally.fully_sent.load(Ordering::Relaxed),
        bytes_sent: tally.bytes.load(Ordering::Relaxed),
        outcomes,
        peak_in_flight: tally.peak_in_flight.load(Ordering::Relaxed),
        stopped_by,
        elapsed,
        serving_after,
    })
}

/// (b) `calls` complete GetSecret calls on one connection, all at once, to a
/// `Fake` object whose backend takes `latency` to answer.
pub async fn many_calls(settings: &Settings) -> Result<Report, String> {
    let manifests = format!(
        "{}{}",
        super::servers::bench_manifest(),
        super::servers::fake_object(
            "slow",
            &format!(
                "  latency: {}\n  data:\n    - key: bench/value\n      value: {}",
                settings.latency,
                super::servers::VALUE
            )
        )
    );
    let mut provider = Provider::start(&manifests).await?;
    let before = provider.memory()?;
    let (mut send, driver) = connect(&provider).await?;
    let mut request = super::servers::get_request();
    request.provider_ref = Some(super::servers::fake_ref("slow"));
    let encoded = request.encode_to_vec();
    let mut message = BytesMut::from(&frame_header(encoded.len())[..]);
    message.extend_from_slice(&encoded);
    let message = message.freeze();
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + settings.limit;
    let mut tasks = JoinSet::new();
    for _ in 0..settings.calls {
        send = match tokio::time::timeout_at(deadline, send.ready()).await {
            Ok(Ok(send)) => send,
            Ok(Err(error)) => {
                tally.record(format!("not opened: {}", reason(&error)));
                break;
            }
            Err(_) => break,
        };
        let (response, mut stream) = match send.send_request(request_head(&provider.address)?, false) {
            Ok(opened) => opened,
            Err(error) => {
                tally.record(format!("not opened: {}", reason(&error)));
                break;
            }
        };
        tally.open();
        if let Err(error) = stream.send_data(message.clone(), true) {
            tally.close(format!("send: {}", reason(&error)));
            continue;
        }
        tally.bytes.fetch_add(message.len() as u64, Ordering::Relaxed);
        let tally = Arc::clone(&tally);
        tasks.spawn(async move {
            let answered = outcome(response).await;
            tally.close(answered);
        });
    }
    let calls = settings.calls;
    let done = || tally.answered() >= calls;
    let stopped_by = watch(&provider, settings, started, done).await;
    let during = provider.memory()?;
    let elapsed = started.elapsed();
    let (after, serving_after) = finish(settings, &mut provider, driver, tasks).await;
    let outcomes = tally.outcomes.lock().map(|o| o.clone()).unwrap_or_default();
    Ok(Report {
        name: format!(
            "(b) {} concurrent GetSecret calls, backend latency {}",
            super::markdown::thousands(settings.calls as u64),
            settings.latency
        ),
        before,
        during,
        after,
        attempted: settings.calls,
        opened: tally.opened.load(Ordering::Relaxed),
        fully_sent: 0,
        bytes_sent: tally.bytes.load(Ordering::Relaxed),
        outcomes,
        peak_in_flight: tally.peak_in_flight.load(Ordering::Relaxed),
        stopped_by,
        elapsed,
        serving_after,
    })
}
