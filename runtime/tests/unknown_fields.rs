//! A request from a newer ESO core is still served: protobuf fields this build
//! does not know (new numbers, every wire type, at the top level and inside the
//! known nested messages) are skipped by the decoder and the call is answered
//! exactly as the same request without them. Raw bytes over real mTLS, as a newer
//! peer's encoder would write them. Malformed bytes are refused, so the extra
//! bytes are shown to reach the decoder (the test can tell skipping from ignoring).
//! The versioning policy this pins: book/src/versioning.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use bytes::{Buf, BufMut, Bytes};
use common::*;
use eso_runtime::proto::generator::v1 as gen_wire;
use eso_runtime::proto::provider::v1 as wire;
use eso_runtime::testing::TestProvider;
use eso_runtime::testing::requests::GeneratorCall;
use eso_runtime::{Ctx, Generated, Generator, Gvk, ProviderSpec, Result, SecretValue};
use prost::Message;
use prost::encoding::encode_varint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};

const GET_SECRET: &str = "/provider.v1.SecretStoreProvider/GetSecret";
const GENERATE: &str = "/generator.v1.GeneratorProvider/Generate";
const CLEANUP: &str = "/generator.v1.GeneratorProvider/Cleanup";

// ---- a generator for the generator.v1 calls ----

const COUNTER: Gvk = Gvk {
    group: "test.eso-gen.dev",
    version: "v1",
    kind: "Counter",
};

#[derive(Debug, Clone, Deserialize)]
struct CounterSpec {
    data: BTreeMap<String, String>,
}

impl ProviderSpec for CounterSpec {
    const GVK: Gvk = COUNTER;
}

#[derive(Serialize, Deserialize)]
struct CounterState {
    keys: Vec<String>,
}

struct Counter;

impl Generator for Counter {
    type Spec = CounterSpec;
    type State = CounterState;

    async fn generate(&self, _ctx: &Ctx, spec: &CounterSpec) -> Result<Generated<CounterState>> {
        Ok(Generated {
            secrets: spec
                .data
                .iter()
                .map(|(k, v)| (k.clone(), SecretValue::from(v.as_str())))
                .collect(),
            state: Some(CounterState {
                keys: spec.data.keys().cloned().collect(),
            }),
        })
    }

    async fn cleanup(&self, _ctx: &Ctx, _spec: Option<&CounterSpec>, state: CounterState) -> Result<()> {
        // The state must arrive intact: a wrong one is refused.
        if state.keys == ["password", "user"] {
            Ok(())
        } else {
            Err(eso_runtime::Error::invalid_request(format!(
                "unexpected state {:?}",
                state.keys
            )))
        }
    }
}

const MANIFESTS: &str = "\
apiVersion: test.eso-gen.dev/v1
kind: Echo
metadata: {name: echo, namespace: default}
spec: {values: {a: first, c: third}}
---
apiVersion: test.eso-gen.dev/v1
kind: Counter
metadata: {name: gen, namespace: default}
spec: {data: {user: admin, password: hunter2}}
";

async fn start() -> TestProvider {
    TestProvider::start(provider(Echo::default()).generator(Counter), MANIFESTS)
        .await
        .expect("provider starts")
}

// ---- raw calls: request bytes as given, response bytes as received ----

#[derive(Debug, Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> std::result::Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> std::result::Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// One unary call of `method` with `body` as the request message's bytes.
async fn raw_call(channel: &Channel, method: &'static str, body: Vec<u8>) -> std::result::Result<Bytes, Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("channel not ready: {e}")))?;
    let path = http::uri::PathAndQuery::from_static(method);
    let response = grpc.unary(tonic::Request::new(Bytes::from(body)), path, Raw).await?;
    Ok(response.into_inner())
}

async fn call<R: Message + Default>(
    channel: &Channel,
    method: &'static str,
    body: Vec<u8>,
) -> std::result::Result<R, Status> {
    let bytes = raw_call(channel, method, body).await?;
    Ok(R::decode(bytes).expect("the provider's reply decodes"))
}

// ---- protobuf encoding by hand: what a newer encoder would append ----

const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
const FIXED32: u64 = 5;

fn tag(buf: &mut Vec<u8>, field: u32, wire_type: u64) {
    encode_varint((u64::from(field) << 3) | wire_type, buf);
}

fn len_field(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    tag(buf, field, LEN);
    encode_varint(bytes.len() as u64, buf);
    buf.extend_from_slice(bytes);
}

/// Fields numbered above anything the contract uses, one of every wire type a
/// proto3 encoder writes: varint (an int, a bool, a negative enum value, ten
/// bytes long), fixed64 (a double), length-delimited (a string and a nested
/// message that holds more unknown fields), fixed32 (a float), a packed repeated
/// field, and the highest field number protobuf allows.
fn unknown_fields() -> Vec<u8> {
    let mut b = Vec::new();
    tag(&mut b, 100, VARINT);
    encode_varint(300, &mut b);
    tag(&mut b, 101, VARINT);
    encode_varint(1, &mut b);
    tag(&mut b, 102, VARINT);
    encode_varint(-2i64 as u64, &mut b);
    tag(&mut b, 103, FIXED64);
    b.put_f64_le(2.5);
    len_field(&mut b, 104, b"a string from a newer core");
    let mut nested = Vec::new();
    tag(&mut nested, 1, VARINT);
    encode_varint(7, &mut nested);
    len_field(&mut nested, 2, b"nested");
    tag(&mut nested, 3, FIXED32);
    nested.put_u32_le(9);
    tag(&mut nested, 4, FIXED64);
    nested.put_u64_le(11);
    len_field(&mut b, 105, &nested);
    tag(&mut b, 106, FIXED32);
    b.put_f32_le(1.5);
    let mut packed = Vec::new();
    for n in [1u64, 2, 300] {
        encode_varint(n, &mut packed);
    }
    len_field(&mut b, 107, &packed);
    tag(&mut b, (1 << 29) - 1, VARINT);
    encode_varint(42, &mut b);
    b
}

/// `message` followed by its embedded message field `field` once more, holding
/// only unknown fields: protobuf merges a repeated embedded message, so this is
/// how a newer `ProviderReference` (or remote ref) with extra fields decodes here.
fn with_unknown_in(mut message: Vec<u8>, field: u32) -> Vec<u8> {
    len_field(&mut message, field, &unknown_fields());
    message
}

fn with_unknown(mut message: Vec<u8>) -> Vec<u8> {
    message.extend(unknown_fields());
    message
}

fn get_request(key: &str) -> Vec<u8> {
    get_secret_request(&ECHO, "default", "echo", key).encode_to_vec()
}

// ---- the tests ----

#[tokio::test]
async fn get_secret_with_unknown_fields_is_served_as_without() {
    let running = start().await;
    let channel = running.client().await.expect("client").channel;

    let plain: wire::GetSecretResponse = call(&channel, GET_SECRET, get_request("a"))
        .await
        .expect("plain request");
    assert_eq!(plain.value, b"first", "the plain request's answer");

    // GetSecretRequest: remote_ref = 1, provider_ref = 2.
    let newer = [
        ("unknown fields at the top level", with_unknown(get_request("a"))),
        ("unknown fields in provider_ref", with_unknown_in(get_request("a"), 2)),
        ("unknown fields in remote_ref", with_unknown_in(get_request("a"), 1)),
        (
            "unknown fields everywhere",
            with_unknown_in(with_unknown_in(with_unknown(get_request("a")), 1), 2),
        ),
        ("an older core's compatibility_store (field 4, reserved)", {
            let mut store = Vec::new();
            len_field(&mut store, 1, b"store");
            len_field(&mut store, 6, br#"{"provider":{}}"#);
            let mut body = get_request("a");
            len_field(&mut body, 4, &store);
            body
        }),
        ("unknown fields before the known ones", {
            let mut body = unknown_fields();
            body.extend(get_request("a"));
            body
        }),
    ];
    for (case, body) in newer {
        let reply: std::result::Result<wire::GetSecretResponse, Status> = call(&channel, GET_SECRET, body).await;
        assert_eq!(reply.ok(), Some(plain.clone()), "{case}: served as the plain request");
    }

    // Known fields after the unknown ones are still read: remote_ref sent again
    // (merged, last key wins) selects `c`.
    let mut body = with_unknown(get_request("a"));
    let mut remote = Vec::new();
    len_field(&mut remote, 1, b"c");
    len_field(&mut body, 1, &remote);
    let reply: wire::GetSecretResponse = call(&channel, GET_SECRET, body).await.expect("merged request");
    assert_eq!(reply.value, b"third", "the field after the unknown ones is decoded");

    running.stop().await.expect("stop");
}

#[tokio::test]
async fn malformed_requests_are_refused_so_the_extra_bytes_are_decoded() {
    let running = start().await;
    let channel = running.client().await.expect("client").channel;

    let mut wrong_type = get_request("a");
    tag(&mut wrong_type, 1, VARINT); // remote_ref is a message, not a varint
    encode_varint(5, &mut wrong_type);

    let mut truncated = get_request("a");
    tag(&mut truncated, 104, LEN); // an unknown string claiming 10 bytes, 2 sent
    encode_varint(10, &mut truncated);
    truncated.extend_from_slice(b"ab");

    let mut bad_wire_type = get_request("a");
    tag(&mut bad_wire_type, 100, 7); // wire type 7 does not exist

    let mut wrong_type_inside = get_request("a");
    let mut reference = Vec::new();
    tag(&mut reference, 2, FIXED32); // provider_ref.kind is a string
    reference.put_u32_le(1);
    len_field(&mut wrong_type_inside, 2, &reference);

    for (case, body) in [
        ("a known field with the wrong wire type", wrong_type),
        ("a truncated unknown field", truncated),
        ("an invalid wire type", bad_wire_type),
        ("a known nested field with the wrong wire type", wrong_type_inside),
    ] {
        let reply = raw_call(&channel, GET_SECRET, body).await;
        let status = reply.expect_err(case);
        // tonic's protobuf decoder answers a message it cannot decode with
        // INTERNAL (grpc's status code guide); the author's method is never called.
        assert_eq!(status.code(), Code::Internal, "{case}: {status:?}");
        assert!(
            status.message().contains("failed to decode"),
            "{case}: names the decode failure: {status:?}"
        );
    }

    // The same connection still serves the plain request.
    let plain: wire::GetSecretResponse = call(&channel, GET_SECRET, get_request("a"))
        .await
        .expect("plain request");
    assert_eq!(plain.value, b"first");

    running.stop().await.expect("stop");
}

#[tokio::test]
async fn generate_and_cleanup_with_unknown_fields_are_served_as_without() {
    let running = start().await;
    let channel = running.client().await.expect("client").channel;
    let generator = GeneratorCall::new(&COUNTER, "default", "gen");
    let generate = generator.generate().encode_to_vec();

    let plain: gen_wire::GenerateResponse = call(&channel, GENERATE, generate.clone())
        .await
        .expect("plain Generate");
    let secrets: BTreeMap<_, _> = plain.secrets.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
    assert_eq!(
        secrets,
        BTreeMap::from([("password", b"hunter2".as_slice()), ("user", b"admin".as_slice())]),
        "the plain Generate's answer"
    );

    // GenerateRequest: generator_ref = 1, source_namespace = 2.
    for (case, body) in [
        ("unknown fields at the top level", with_unknown(generate.clone())),
        ("unknown fields in generator_ref", with_unknown_in(generate.clone(), 1)),
    ] {
        let reply: std::result::Result<gen_wire::GenerateResponse, Status> = call(&channel, GENERATE, body).await;
        assert_eq!(
            reply.ok(),
            Some(plain.clone()),
            "Generate, {case}: served as the plain request"
        );
    }

    // Cleanup (generator_ref = 1, state = 2): the state a Generate returned
    // arrives intact beside unknown fields (the generator refuses any other).
    let cleanup = generator.cleanup(plain.state.clone()).encode_to_vec();
    let plain_cleanup: gen_wire::CleanupResponse =
        call(&channel, CLEANUP, cleanup.clone()).await.expect("plain Cleanup");
    let reply: std::result::Result<gen_wire::CleanupResponse, Status> =
        call(&channel, CLEANUP, with_unknown_in(with_unknown(cleanup), 1)).await;
    assert_eq!(reply.ok(), Some(plain_cleanup), "Cleanup with unknown fields");

    // A wrong state is refused: the Cleanup above really checked it.
    let wrong = generator.cleanup(br#"{"keys":["other"]}"#.to_vec()).encode_to_vec();
    let refused = raw_call(&channel, CLEANUP, with_unknown(wrong)).await;
    assert_eq!(
        refused.err().map(|s| s.code()),
        Some(Code::InvalidArgument),
        "a wrong state"
    );

    // And a Generate whose generator_ref has the wrong wire type is refused.
    let mut wrong_type = generate;
    tag(&mut wrong_type, 1, FIXED64);
    wrong_type.put_u64_le(1);
    let refused = raw_call(&channel, GENERATE, wrong_type).await;
    assert_eq!(
        refused.err().map(|s| s.code()),
        Some(Code::Internal),
        "Generate, wrong wire type"
    );

    running.stop().await.expect("stop");
}
