//! Overload is answered, not queued: streams per connection (advertised and
//! enforced, checked with raw HTTP/2 frames), calls in flight, request bytes held,
//! slow request bodies, connections that never start HTTP/2, oversized and
//! hostile request fields — each answered with a clear code while other callers
//! keep being served. Real mTLS on loopback throughout.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use bytes::Bytes;
use common::*;
use eso_runtime::client::{ProviderClient, with_deadline};
use eso_runtime::server::Limits;
use eso_runtime::testing::TestProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;

type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

async fn start_with(limits: Limits, manifests: &str) -> TestProvider {
    TestProvider::start_with_limits(provider(Echo::default()), manifests, limits)
        .await
        .expect("provider starts")
}

/// A raw mTLS connection to the provider, ALPN h2, as ESO core's client would open it.
async fn raw_tls(provider: &TestProvider) -> TlsStream {
    let tls = provider.client_tls().expect("client certificates");
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(&tls.ca_pem) {
        roots.add(ca.expect("CA PEM")).expect("CA");
    }
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&tls.cert_pem)
        .collect::<Result<_, _>>()
        .expect("client chain");
    let key = PrivateKeyDer::from_pem_slice(&tls.key_pem).expect("client key");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client auth");
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(provider.running().grpc_addr())
        .await
        .expect("connect");
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("TLS handshake")
}

/// A caller on a new connection reads `default/echo`'s `a` as usual.
async fn assert_a_new_connection_is_served(provider: &TestProvider) {
    let mut client = provider.client().await.expect("client");
    let value = client
        .store
        .get_secret(get_secret_request(&ECHO, "default", "echo", "a"))
        .await
        .map(|r| r.into_inner().value);
    assert_eq!(value.ok(), Some(b"b".to_vec()), "a new connection is served");
}

// --- raw HTTP/2 frames (RFC 9113), just what these tests need ---

const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
const REFUSED_STREAM: u32 = 0x7;
const ENHANCE_YOUR_CALM: u32 = 0xb;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// HPACK: a literal header field without indexing, new name (RFC 7541, 6.2.2).
fn literal(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(0x00);
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out.push(value.len() as u8);
    out.extend_from_slice(value.as_bytes());
}

fn get_secret_headers() -> Vec<u8> {
    let mut block = Vec::new();
    literal(&mut block, ":method", "POST");
    literal(&mut block, ":scheme", "https");
    literal(&mut block, ":path", "/provider.v1.SecretStoreProvider/GetSecret");
    literal(&mut block, ":authority", "localhost");
    literal(&mut block, "content-type", "application/grpc");
    literal(&mut block, "te", "trailers");
    block
}

struct Frame {
    kind: u8,
    stream: u32,
    payload: Vec<u8>,
}

async fn read_frame(io: &mut TlsStream) -> Option<Frame> {
    let mut header = [0u8; 9];
    io.read_exact(&mut header).await.ok()?;
    let len = (usize::from(header[0]) << 16) | (usize::from(header[1]) << 8) | usize::from(header[2]);
    let mut payload = vec![0u8; len];
    io.read_exact(&mut payload).await.ok()?;
    let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
    Some(Frame {
        kind: header[3],
        stream,
        payload,
    })
}

fn error_code(payload: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(payload.get(at..at + 4)?.try_into().ok()?))
}

/// Starts HTTP/2 by hand: preface, empty SETTINGS, and the ACK of the server's
/// SETTINGS (limits apply once acknowledged). Returns the advertised stream limit.
async fn raw_http2(io: &mut TlsStream) -> Option<u32> {
    io.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .expect("preface");
    io.write_all(&frame(SETTINGS, 0, 0, &[])).await.expect("settings");
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), read_frame(io))
            .await
            .expect("server SETTINGS in time")
            .expect("server SETTINGS");
        if frame.kind == SETTINGS && frame.payload.len() % 6 == 0 && !frame.payload.is_empty() {
            io.write_all(&frame_ack()).await.expect("settings ack");
            return frame.payload.chunks(6).find_map(|setting| {
                (u16::from_be_bytes([setting[0], setting[1]]) == SETTINGS_MAX_CONCURRENT_STREAMS)
                    .then(|| u32::from_be_bytes([setting[2], setting[3], setting[4], setting[5]]))
            });
        }
    }
}

fn frame_ack() -> Vec<u8> {
    frame(SETTINGS, ACK, 0, &[])
}

#[tokio::test]
async fn streams_beyond_the_advertised_limit_are_refused() {
    let limits = Limits {
        max_concurrent_streams: 8,
        ..Limits::default()
    };
    let provider = start_with(limits, &echo_object("default", "echo", "{a: b}")).await;
    let mut io = raw_tls(&provider).await;
    assert_eq!(
        raw_http2(&mut io).await,
        Some(8),
        "SETTINGS_MAX_CONCURRENT_STREAMS advertised"
    );
    // 20 streams whose request bodies never come: 8 are taken, the rest refused.
    let block = get_secret_headers();
    for i in 0..20u32 {
        io.write_all(&frame(HEADERS, END_HEADERS, 2 * i + 1, &block))
            .await
            .expect("headers");
    }
    let mut refused = Vec::new();
    while refused.len() < 12 {
        let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(10), read_frame(&mut io)).await else {
            break;
        };
        if frame.kind == RST_STREAM && error_code(&frame.payload, 0) == Some(REFUSED_STREAM) {
            refused.push(frame.stream);
        }
    }
    refused.sort_unstable();
    assert_eq!(
        refused,
        (8..20).map(|i| 2 * i + 1).collect::<Vec<u32>>(),
        "streams 17..39 refused"
    );
    // Another connection is served as usual meanwhile.
    assert_a_new_connection_is_served(&provider).await;
    provider.stop().await.expect("stop");
}

#[tokio::test]
async fn a_flood_of_streams_the_server_must_reset_ends_in_goaway() {
    let provider = start_with(Limits::default(), &echo_object("default", "echo", "{a: b}")).await;
    let mut io = raw_tls(&provider).await;
    raw_http2(&mut io).await;
    // Each stream is a malformed request (no :path), a stream error the server
    // answers with RST_STREAM; h2 counts those and gives up on the connection past
    // its limit (tonic leaves that limit off unless it is set).
    let mut block = Vec::new();
    literal(&mut block, ":method", "POST");
    literal(&mut block, ":scheme", "https");
    literal(&mut block, ":authority", "localhost");
    let reader = tokio::spawn(async move {
        let mut goaway = None;
        let (mut read, mut write) = tokio::io::split(io);
        let writer = tokio::spawn(async move {
            for i in 0..1500u32 {
                let stream = 2 * i + 1;
                let batch = frame(HEADERS, END_HEADERS | END_STREAM, stream, &block);
                if write.write_all(&batch).await.is_err() {
                    return i;
                }
            }
            1500
        });
        let mut header = [0u8; 9];
        while tokio::time::timeout(Duration::from_secs(20), read.read_exact(&mut header))
            .await
            .is_ok_and(|r| r.is_ok())
        {
            let len = (usize::from(header[0]) << 16) | (usize::from(header[1]) << 8) | usize::from(header[2]);
            let mut payload = vec![0u8; len];
            if read.read_exact(&mut payload).await.is_err() {
                break;
            }
            if header[3] == GOAWAY {
                goaway = error_code(&payload, 4);
                break;
            }
        }
        let _ = writer.await;
        goaway
    });
    let goaway = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the server answers the flood in time")
        .expect("reader");
    assert_eq!(
        goaway,
        Some(ENHANCE_YOUR_CALM),
        "GOAWAY ENHANCE_YOUR_CALM after the reset limit"
    );
    provider.stop().await.expect("stop");
}

#[tokio::test]
async fn calls_beyond_the_in_flight_limit_are_refused_at_once_and_counted() {
    let limits = Limits {
        max_in_flight: 4,
        ..Limits::default()
    };
    let manifests = format!(
        "{}apiVersion: test.eso-gen.dev/v1\nkind: Echo\nmetadata: {{name: slow, namespace: default}}\nspec: {{values: {{a: b}}, delayMs: 1500}}\n",
        echo_object("default", "echo", "{a: b}")
    );
    let provider = start_with(limits, &manifests).await;
    let client = provider.client().await.expect("client");
    // Warm the slow object's client so all calls reach the handler together.
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move {
                client
                    .store
                    .get_secret(get_secret_request(&ECHO, "default", "slow", "a"))
                    .await
                    .map(|_| ())
                    .map_err(|status| (status.code(), status.message().to_string()))
            })
        })
        .collect();
    // While the slots are taken, health still answers SERVING.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(client.channel.clone());
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .map(|r| r.into_inner().status);
    assert_eq!(
        serving.ok(),
        Some(tonic_health::pb::health_check_response::ServingStatus::Serving as i32)
    );
    let mut ok = 0;
    let mut refused = 0;
    for call in calls {
        match call.await.expect("task") {
            Ok(()) => ok += 1,
            Err((Code::ResourceExhausted, message)) => {
                assert!(message.contains("limit of 4 calls"), "{message}");
                refused += 1;
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, refused), (4, 6));
    assert_eq!(provider.running().metrics().requests_rejected("in_flight"), 6);
    let exposition = provider.running().metrics().encode();
    assert!(
        exposition.contains("provider_requests_rejected_total{reason=\"in_flight\"} 6"),
        "{exposition}"
    );
    // Once they are done, calls are admitted again.
    let mut client = client;
    let again = client
        .store
        .get_secret(get_secret_request(&ECHO, "default", "echo", "a"))
        .await;
    assert!(again.is_ok(), "{again:?}");
    provider.stop().await.expect("stop");
}

/// A gRPC message header declaring `len` bytes.
fn grpc_prefix(len: u32) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(&len.to_be_bytes());
    out
}

/// The grpc-status of a response: in its headers (trailers-only) or trailers.
async fn grpc_code(response: h2::client::ResponseFuture) -> Option<i32> {
    let response = response.await.ok()?;
    if let Some(status) = response.headers().get("grpc-status") {
        return status.to_str().ok()?.parse().ok();
    }
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let _ = chunk.ok()?;
    }
    let trailers = body.trailers().await.ok()??;
    trailers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

#[tokio::test]
async fn unfinished_request_bodies_are_bounded_in_memory_and_time() {
    let limits = Limits {
        request_memory: 1024 * 1024,
        request_body_timeout: Duration::from_millis(700),
        ..Limits::default()
    };
    let provider = start_with(limits, &echo_object("default", "echo", "{a: b}")).await;
    let io = raw_tls(&provider).await;
    let (send, connection) = h2::client::Builder::new()
        .initial_window_size(8 * 1024 * 1024)
        .handshake::<_, Bytes>(io)
        .await
        .expect("h2 handshake");
    let driver = tokio::spawn(connection);
    // 8 streams, each declaring a 4 MiB message and sending 512 KiB of it, then nothing.
    let mut responses = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..8 {
        let mut send = send.clone().ready().await.expect("stream slot");
        let request = http::Request::post("https://localhost/provider.v1.SecretStoreProvider/GetSecret")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .expect("request");
        let (response, mut body) = send.send_request(request, false).expect("send");
        let mut data = grpc_prefix(4 * 1024 * 1024);
        data.extend(std::iter::repeat_n(b'x', 512 * 1024));
        body.reserve_capacity(data.len());
        body.send_data(Bytes::from(data), false).expect("data");
        responses.push(response);
        bodies.push(body);
    }
    // Meanwhile an ordinary caller on another connection is served.
    assert_a_new_connection_is_served(&provider).await;

    let mut codes = Vec::new();
    for response in responses {
        let code = tokio::time::timeout(Duration::from_secs(20), grpc_code(response))
            .await
            .expect("every stream is answered in time");
        codes.push(code);
    }
    let exhausted = codes
        .iter()
        .filter(|c| **c == Some(Code::ResourceExhausted as i32))
        .count();
    let timed_out = codes
        .iter()
        .filter(|c| **c == Some(Code::DeadlineExceeded as i32))
        .count();
    assert_eq!(exhausted + timed_out, 8, "{codes:?}");
    assert!(exhausted >= 1, "8 × 512 KiB cannot fit in 1 MiB: {codes:?}");
    let metrics = provider.running().metrics();
    assert_eq!(metrics.requests_rejected("request_memory") as usize, exhausted);
    assert_eq!(metrics.requests_rejected("request_body_timeout") as usize, timed_out);
    drop(bodies);
    driver.abort();

    // Everything was given back: a 900 KiB request fits in the 1 MiB budget again
    // (the key is not there: NOT_FOUND, which means it reached the store).
    let mut client = provider.client().await.expect("client");
    let big = client
        .store
        .get_secret(get_secret_request(&ECHO, "default", "echo", &"k".repeat(900 * 1024)))
        .await;
    assert_eq!(big.err().map(|s| s.code()), Some(Code::NotFound));
    provider.stop().await.expect("stop");
}

#[tokio::test]
async fn connections_that_never_start_http2_are_closed() {
    let limits = Limits {
        preface_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let provider = start_with(limits, &echo_object("default", "echo", "{a: b}")).await;
    // TLS done, then silence: closed after the preface timeout.
    let mut silent = raw_tls(&provider).await;
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buffer)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "a silent connection is closed, not kept: {read:?}"
    );
    // TLS done, then HTTP/1.1: closed too.
    let mut http1 = raw_tls(&provider).await;
    http1
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let read = tokio::time::timeout(Duration::from_secs(10), http1.read(&mut buffer)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
    // A real client in the meantime.
    assert_a_new_connection_is_served(&provider).await;
    provider.stop().await.expect("stop");
}

#[tokio::test]
async fn oversized_requests_are_out_of_range() {
    let provider = start_with(Limits::default(), &echo_object("default", "echo", "{a: b}")).await;
    let mut client = provider.client().await.expect("client");
    let status = client
        .store
        .get_secret(get_secret_request(
            &ECHO,
            "default",
            "echo",
            &"k".repeat(5 * 1024 * 1024),
        ))
        .await
        .err();
    assert_eq!(status.map(|s| s.code()), Some(Code::OutOfRange));
    provider.stop().await.expect("stop");
}

/// Every request field a caller controls, 1 MiB long and with a newline and an
/// ANSI escape in it: the error keeps its real code, stays small, and carries no
/// control character (a gRPC client's 16 KiB metadata limit would otherwise turn
/// it into RESOURCE_EXHAUSTED).
#[tokio::test]
async fn hostile_request_fields_come_back_bounded_and_escaped() {
    let provider = start_with(Limits::default(), &echo_object("default", "echo", "{a: b}")).await;
    let mut client: ProviderClient = provider.client().await.expect("client");
    let huge = format!("x\n\u{1b}[31m{}", "y".repeat(1024 * 1024));
    let mut cases = Vec::new();
    let mut request = get_secret_request(&ECHO, "default", "echo", &huge);
    cases.push(("remote_ref.key", request.clone(), Code::NotFound));
    request = get_secret_request(&ECHO, "default", &huge, "a");
    cases.push(("provider_ref.name", request, Code::FailedPrecondition));
    request = get_secret_request(&ECHO, "default", "echo", "a");
    if let Some(reference) = request.provider_ref.as_mut() {
        reference.kind = huge.clone();
    }
    cases.push(("provider_ref.kind", request, Code::Unimplemented));
    request = get_secret_request(&ECHO, "default", "echo", "a");
    if let Some(reference) = request.provider_ref.as_mut() {
        reference.api_version = huge.clone();
    }
    cases.push(("provider_ref.api_version", request, Code::InvalidArgument));
    request = get_secret_request(&ECHO, "default", "echo", "a");
    if let Some(reference) = request.provider_ref.as_mut() {
        reference.namespace = huge.clone();
    }
    cases.push(("provider_ref.namespace", request, Code::PermissionDenied));
    for (field, request, code) in cases {
        let status = client
            .store
            .get_secret(with_deadline(request, Duration::from_secs(30)))
            .await
            .err()
            .unwrap_or_else(|| panic!("{field}: accepted"));
        assert_eq!(status.code(), code, "{field}: {}", status.message());
        let message = status.message();
        assert!(message.len() < 4096, "{field}: {} bytes", message.len());
        assert!(!message.chars().any(char::is_control), "{field}: {message:?}");
        let length = format!("({} bytes)", huge.len());
        assert!(message.contains(&length), "{field}: says how long it was: {message}");
    }
    provider.stop().await.expect("stop");
}

/// Sends one GetSecret for `name`'s key `a` on a raw h2 connection.
fn send_get_secret(send: &mut h2::client::SendRequest<Bytes>, name: &str) -> Option<h2::client::ResponseFuture> {
    use prost::Message;
    let request = http::Request::post("https://localhost/provider.v1.SecretStoreProvider/GetSecret")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .ok()?;
    let message = get_secret_request(&ECHO, "default", name, "a").encode_to_vec();
    let (response, mut body) = send.send_request(request, false).ok()?;
    let mut data = grpc_prefix(u32::try_from(message.len()).ok()?);
    data.extend(message);
    body.send_data(Bytes::from(data), true).ok()?;
    Some(response)
}

#[tokio::test]
async fn a_connection_past_its_age_is_sent_away_and_its_call_in_flight_finishes() {
    let limits = Limits {
        max_connection_age: Some(Duration::from_millis(800)),
        max_connection_age_grace: Duration::from_secs(10),
        ..Limits::default()
    };
    let manifests = format!(
        "{}apiVersion: test.eso-gen.dev/v1\nkind: Echo\nmetadata: {{name: slow, namespace: default}}\nspec: {{values: {{a: b}}, delayMs: 2000}}\n",
        echo_object("default", "echo", "{a: b}")
    );
    let provider = start_with(limits, &manifests).await;
    let io = raw_tls(&provider).await;
    let (send, connection) = h2::client::Builder::new()
        .handshake::<_, Bytes>(io)
        .await
        .expect("h2 handshake");
    let opened = tokio::time::Instant::now();
    let driver = tokio::spawn(connection);
    let mut send = send.ready().await.expect("stream slot");
    // A call that is still running when the connection reaches its age.
    let slow = send_get_secret(&mut send, "slow").expect("slow call sent");
    let code = tokio::time::timeout(Duration::from_secs(20), grpc_code(slow))
        .await
        .expect("the call in flight is answered");
    assert_eq!(
        code,
        Some(Code::Ok as i32),
        "the call in flight finishes within the grace"
    );
    // The server said GOAWAY at the age: the connection ends (gracefully) once the
    // call is done, and takes no new calls.
    let ended = tokio::time::timeout(Duration::from_secs(20), driver)
        .await
        .expect("the connection ends after its age");
    let lasted = opened.elapsed();
    assert!(
        lasted >= Duration::from_secs(2),
        "open until the call was done: {lasted:?}"
    );
    assert!(
        lasted < Duration::from_secs(8),
        "closed once the call was done, not at the end of the 10 s grace: {lasted:?}"
    );
    assert!(
        matches!(&ended, Ok(Ok(()))),
        "a graceful end (GOAWAY, then no streams left): {ended:?}"
    );
    let refused = send
        .ready()
        .await
        .map(|mut s| send_get_secret(&mut s, "echo").is_some());
    assert!(
        !matches!(refused, Ok(true)),
        "no new call on a connection sent away: {refused:?}"
    );
    // ESO core reconnects: a new connection is served.
    assert_a_new_connection_is_served(&provider).await;
    provider.stop().await.expect("stop");
}

#[tokio::test]
async fn a_call_still_running_past_the_grace_is_cut_off_with_its_connection() {
    let limits = Limits {
        max_connection_age: Some(Duration::from_millis(300)),
        max_connection_age_grace: Duration::from_millis(500),
        ..Limits::default()
    };
    let manifests = "apiVersion: test.eso-gen.dev/v1\nkind: Echo\nmetadata: {name: slow, namespace: default}\nspec: {values: {a: b}, delayMs: 5000}\n";
    let provider = start_with(limits, manifests).await;
    let io = raw_tls(&provider).await;
    let (send, connection) = h2::client::Builder::new()
        .handshake::<_, Bytes>(io)
        .await
        .expect("h2 handshake");
    let opened = tokio::time::Instant::now();
    let driver = tokio::spawn(connection);
    let mut send = send.ready().await.expect("stream slot");
    let slow = send_get_secret(&mut send, "slow").expect("slow call sent");
    let code = tokio::time::timeout(Duration::from_secs(20), grpc_code(slow))
        .await
        .expect("the call ends with its connection");
    assert_eq!(code, None, "no answer: the connection was closed under it");
    let ended = tokio::time::timeout(Duration::from_secs(20), driver).await;
    let lasted = opened.elapsed();
    assert!(ended.is_ok(), "the connection ends");
    assert!(
        lasted >= Duration::from_millis(800) && lasted < Duration::from_secs(4),
        "closed at age + grace (0.8 s), before the call's 5 s: {lasted:?}"
    );
    provider.stop().await.expect("stop");
}

/// A raw h2 connection, ready for a stream, and the task driving it.
async fn open_h2(
    provider: &TestProvider,
) -> (
    h2::client::SendRequest<Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let (send, connection) = h2::client::Builder::new()
        .handshake::<_, Bytes>(raw_tls(provider).await)
        .await
        .expect("h2 handshake");
    let driver = tokio::spawn(connection);
    (send.ready().await.expect("stream slot"), driver)
}

#[tokio::test]
async fn a_connection_without_calls_for_its_idle_limit_is_sent_away_and_one_with_a_call_is_not() {
    let limits = Limits {
        max_connection_idle: Some(Duration::from_millis(600)),
        ..Limits::default()
    };
    let manifests = format!(
        "{}apiVersion: test.eso-gen.dev/v1\nkind: Echo\nmetadata: {{name: slow, namespace: default}}\nspec: {{values: {{a: b}}, delayMs: 2000}}\n",
        echo_object("default", "echo", "{a: b}")
    );
    let provider = start_with(limits, &manifests).await;
    // A: one quick call, then nothing. B: a call that runs 2 s, past the idle limit.
    let (mut quick_send, quick_driver) = open_h2(&provider).await;
    let (mut busy_send, busy_driver) = open_h2(&provider).await;
    let opened = tokio::time::Instant::now();
    let quick = send_get_secret(&mut quick_send, "echo").expect("quick call sent");
    let busy = send_get_secret(&mut busy_send, "slow").expect("slow call sent");
    assert_eq!(grpc_code(quick).await, Some(Code::Ok as i32));

    let quick_ended = tokio::time::timeout(Duration::from_secs(10), quick_driver)
        .await
        .expect("the idle connection ends");
    let quick_lasted = opened.elapsed();
    assert!(
        matches!(&quick_ended, Ok(Ok(()))),
        "a graceful end (GOAWAY, no streams left): {quick_ended:?}"
    );
    assert!(
        quick_lasted >= Duration::from_millis(600) && quick_lasted < Duration::from_millis(1900),
        "sent away once idle for 0.6 s, while the other connection's call still ran: {quick_lasted:?}"
    );
    assert!(
        !busy_driver.is_finished(),
        "a connection with a call in flight is not idle"
    );
    assert_eq!(
        grpc_code(busy).await,
        Some(Code::Ok as i32),
        "the call in flight is answered"
    );
    let busy_ended = tokio::time::timeout(Duration::from_secs(10), busy_driver)
        .await
        .expect("idle after its call, it ends too");
    let busy_lasted = opened.elapsed();
    assert!(matches!(&busy_ended, Ok(Ok(()))), "{busy_ended:?}");
    assert!(
        busy_lasted >= Duration::from_millis(2600),
        "idle counted from the end of its call (2 s + 0.6 s): {busy_lasted:?}"
    );
    // ESO core opens a new connection when it next calls.
    assert_a_new_connection_is_served(&provider).await;
    provider.stop().await.expect("stop");
}

#[tokio::test]
async fn client_pings_more_often_than_every_5_seconds_are_answered() {
    // Upstream's provider servers permit ESO core's keepalive pings down to every 5 s;
    // ours answer any rate and keep the connection (no GOAWAY ENHANCE_YOUR_CALM).
    let provider = start_with(Limits::default(), &echo_object("default", "echo", "{a: b}")).await;
    let io = raw_tls(&provider).await;
    let (send, mut connection) = h2::client::Builder::new()
        .handshake::<_, Bytes>(io)
        .await
        .expect("h2 handshake");
    let mut pings = connection.ping_pong().expect("ping handle");
    let driver = tokio::spawn(connection);
    for _ in 0..20 {
        tokio::time::timeout(Duration::from_secs(5), pings.ping(h2::Ping::opaque()))
            .await
            .expect("pong in time")
            .expect("pong");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut send = send.ready().await.expect("the connection is still open");
    let echo = send_get_secret(&mut send, "echo").expect("call sent");
    assert_eq!(grpc_code(echo).await, Some(Code::Ok as i32));
    driver.abort();
    provider.stop().await.expect("stop");
}
