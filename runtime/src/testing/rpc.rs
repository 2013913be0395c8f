//! Calls as values, for tables of cases: a [`Request`] of either service, [`call`]
//! to make it, its [`Reply`], and an [`Expect`]ation to check it against;
//! [`run_table`] runs `(case, request, expectation)` rows in order and names the
//! first case that fails. [`Rpc`] names the store RPCs that read the provider
//! object and builds an otherwise valid request of each, for "every RPC refuses
//! this reference" loops.
//!
//! ```
//! use eso_runtime::Gvk;
//! use eso_runtime::client::ProviderClient;
//! use eso_runtime::testing::requests::StoreCall;
//! use eso_runtime::testing::{Expect, Rpc, TestResult, call_in_band, check, expect_status, run_table};
//! use tonic::Code;
//!
//! const FAKE: Gvk = Gvk { group: "provider.external-secrets.io", version: "v2alpha1", kind: "Fake" };
//!
//! async fn reads_and_refuses(client: &mut ProviderClient) -> TestResult {
//!     let backend = StoreCall::new(&FAKE, "default", "backend");
//!     run_table(client, [
//!         ("plain", backend.get("hello", "", "").into(), Expect::Value("world")),
//!         ("missing", backend.get("nope", "", "").into(), Expect::Status(Code::NotFound, &["nope"])),
//!         ("pushed", backend.push(&[("k", "v")], "k", "pushed", "", "").into(), Expect::Ok),
//!         ("exists", backend.exists("pushed", "").into(), Expect::Exists(true)),
//!     ])
//!     .await?;
//!     // Every RPC refuses a request without a provider reference, none in-band.
//!     for rpc in Rpc::ALL {
//!         let (result, in_band) = call_in_band(client, rpc.request(None, "default")).await;
//!         check!(!in_band, "{rpc:?}: in-band");
//!         expect_status(&format!("{rpc:?}"), result, Code::InvalidArgument, &["provider_ref is missing"])?;
//!     }
//!     Ok(())
//! }
//! ```

use super::expect::{TestResult, expect_status, pairs, text, text_map};
use super::requests::{push_remote, remote};
use crate::client::ProviderClient;
use eso_proto::generator::v1 as gen_wire;
use eso_proto::provider::v1 as wire;
use std::collections::HashMap;
use tonic::{Code, Status};

/// A store RPC that reads the provider object (every one of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rpc {
    /// `GetSecret`.
    GetSecret,
    /// `GetSecretMap`.
    GetSecretMap,
    /// `GetAllSecrets`.
    GetAllSecrets,
    /// `PushSecret`.
    PushSecret,
    /// `DeleteSecret`.
    DeleteSecret,
    /// `SecretExists`.
    SecretExists,
    /// `Validate`.
    Validate,
    /// `Capabilities`.
    Capabilities,
}

impl Rpc {
    /// Every store RPC, in the order of the service.
    pub const ALL: [Rpc; 8] = [
        Rpc::GetSecret,
        Rpc::GetSecretMap,
        Rpc::GetAllSecrets,
        Rpc::PushSecret,
        Rpc::DeleteSecret,
        Rpc::SecretExists,
        Rpc::Validate,
        Rpc::Capabilities,
    ];

    /// A request of this RPC about `provider_ref` (`None`: no reference at all, as a
    /// broken core could send) from `source_namespace`, otherwise valid: key `db`
    /// (GetSecret, GetSecretMap, DeleteSecret, SecretExists), a find under path `h`,
    /// a push of key `k` (value `v`) to `pushed`.
    ///
    /// ```
    /// use eso_runtime::testing::{Request, Rpc};
    ///
    /// let Request::GetSecret(request) = Rpc::GetSecret.request(None, "team-a") else { unreachable!() };
    /// assert_eq!((request.provider_ref, request.source_namespace.as_str()), (None, "team-a"));
    /// assert_eq!(request.remote_ref.map(|r| r.key).as_deref(), Some("db"));
    /// ```
    pub fn request(self, provider_ref: Option<wire::ProviderReference>, source_namespace: &str) -> Request {
        let source_namespace = source_namespace.to_string();
        match self {
            Rpc::GetSecret => Request::GetSecret(wire::GetSecretRequest {
                remote_ref: Some(remote("db", "", "")),
                provider_ref,
                source_namespace,
            }),
            Rpc::GetSecretMap => Request::GetSecretMap(wire::GetSecretMapRequest {
                remote_ref: Some(remote("db", "", "")),
                provider_ref,
                source_namespace,
            }),
            Rpc::GetAllSecrets => Request::GetAllSecrets(wire::GetAllSecretsRequest {
                provider_ref,
                find: Some(wire::ExternalSecretFind {
                    path: "h".into(),
                    ..Default::default()
                }),
                source_namespace,
            }),
            Rpc::PushSecret => Request::PushSecret(wire::PushSecretRequest {
                provider_ref,
                secret_data: [("k".to_string(), b"v".to_vec())].into_iter().collect(),
                push_secret_data: Some(wire::PushSecretData {
                    metadata: Vec::new(),
                    secret_key: "k".into(),
                    remote_key: "pushed".into(),
                    property: String::new(),
                }),
                source_namespace,
                secret_type: "Opaque".into(),
                ..Default::default()
            }),
            Rpc::DeleteSecret => Request::DeleteSecret(wire::DeleteSecretRequest {
                provider_ref,
                remote_ref: Some(push_remote("db", "")),
                source_namespace,
            }),
            Rpc::SecretExists => Request::SecretExists(wire::SecretExistsRequest {
                provider_ref,
                remote_ref: Some(push_remote("db", "")),
                source_namespace,
            }),
            Rpc::Validate => Request::Validate(wire::ValidateRequest {
                provider_ref,
                source_namespace,
            }),
            Rpc::Capabilities => Request::Capabilities(wire::CapabilitiesRequest {
                provider_ref,
                source_namespace,
            }),
        }
    }
}

macro_rules! rpcs {
    ($($rpc:ident($request:ty => $reply:ty)),+ $(,)?) => {
        /// A request of either service, by value. Every wire request converts into one
        /// (`.into()`), so a table can hold requests of different RPCs.
        #[derive(Debug, Clone)]
        pub enum Request {
            $(
                #[doc = concat!("`", stringify!($rpc), "`.")]
                $rpc($request),
            )+
        }

        /// What a [`Request`] was answered, by value.
        #[derive(Debug, Clone)]
        pub enum Reply {
            $(
                #[doc = concat!("`", stringify!($rpc), "`.")]
                $rpc($reply),
            )+
        }

        $(
            impl From<$request> for Request {
                fn from(request: $request) -> Self {
                    Request::$rpc(request)
                }
            }
        )+

        impl Request {
            /// The RPC's name, as in the service (`GetSecret`, `Generate`, …).
            pub fn name(&self) -> &'static str {
                match self {
                    $(Request::$rpc(_) => stringify!($rpc),)+
                }
            }
        }
    };
}

rpcs!(
    GetSecret(wire::GetSecretRequest => wire::GetSecretResponse),
    GetSecretMap(wire::GetSecretMapRequest => wire::GetSecretMapResponse),
    GetAllSecrets(wire::GetAllSecretsRequest => wire::GetAllSecretsResponse),
    PushSecret(wire::PushSecretRequest => wire::PushSecretResponse),
    DeleteSecret(wire::DeleteSecretRequest => wire::DeleteSecretResponse),
    SecretExists(wire::SecretExistsRequest => wire::SecretExistsResponse),
    Validate(wire::ValidateRequest => wire::ValidateResponse),
    Capabilities(wire::CapabilitiesRequest => wire::CapabilitiesResponse),
    Generate(gen_wire::GenerateRequest => gen_wire::GenerateResponse),
    Cleanup(gen_wire::CleanupRequest => gen_wire::CleanupResponse),
);

/// Makes `request` with `client`: its reply, or the status it was refused with.
pub async fn call(client: &mut ProviderClient, request: impl Into<Request>) -> Result<Reply, Status> {
    let (store, generator) = (&mut client.store, &mut client.generator);
    Ok(match request.into() {
        Request::GetSecret(r) => Reply::GetSecret(store.get_secret(r).await?.into_inner()),
        Request::GetSecretMap(r) => Reply::GetSecretMap(store.get_secret_map(r).await?.into_inner()),
        Request::GetAllSecrets(r) => Reply::GetAllSecrets(store.get_all_secrets(r).await?.into_inner()),
        Request::PushSecret(r) => Reply::PushSecret(store.push_secret(r).await?.into_inner()),
        Request::DeleteSecret(r) => Reply::DeleteSecret(store.delete_secret(r).await?.into_inner()),
        Request::SecretExists(r) => Reply::SecretExists(store.secret_exists(r).await?.into_inner()),
        Request::Validate(r) => Reply::Validate(store.validate(r).await?.into_inner()),
        Request::Capabilities(r) => Reply::Capabilities(store.capabilities(r).await?.into_inner()),
        Request::Generate(r) => Reply::Generate(generator.generate(r).await?.into_inner()),
        Request::Cleanup(r) => Reply::Cleanup(generator.cleanup(r).await?.into_inner()),
    })
}

/// [`call`], with Validate's in-band refusal counted as a refusal: a Validate
/// answered `valid: false` comes back as `Err(FAILED_PRECONDITION)` with the error
/// as its message, and `true` to say it came in-band. A configuration problem can
/// then be checked alike for every RPC, whether it is refused or reported.
pub async fn call_in_band(client: &mut ProviderClient, request: impl Into<Request>) -> (Result<Reply, Status>, bool) {
    match call(client, request).await {
        Ok(Reply::Validate(response)) if !response.valid => (Err(Status::failed_precondition(response.error)), true),
        result => (result, false),
    }
}

/// What a case of a table expects its call to answer.
#[derive(Debug, Clone)]
pub enum Expect<'a> {
    /// Any successful answer (gRPC OK; for Validate, also `valid: false`).
    Ok,
    /// GetSecret: exactly this value, as text.
    Value(&'a str),
    /// GetSecret: a value that parses as this JSON (key order does not matter).
    Json(serde_json::Value),
    /// GetSecretMap, GetAllSecrets, Generate: exactly these secrets, as text.
    Secrets(&'a [(&'a str, &'a str)]),
    /// GetSecretMap, GetAllSecrets, Generate: exactly these keys, sorted (the values
    /// are not compared).
    Keys(&'a [&'a str]),
    /// SecretExists: this answer.
    Exists(bool),
    /// Refused with this code and a message containing every one of the needles.
    Status(Code, &'a [&'a str]),
}

impl Expect<'_> {
    /// Checks the answer of the call `what` (named `rpc`) against this expectation.
    pub fn check(&self, what: &str, rpc: &str, result: Result<Reply, Status>) -> TestResult {
        if let Expect::Status(code, needles) = self {
            expect_status(&format!("{what} ({rpc})"), result, *code, needles)?;
            return Ok(());
        }
        let reply = result.map_err(|status| format!("{what} ({rpc}): {:?}: {}", status.code(), status.message()))?;
        let mismatch = |expected: &dyn std::fmt::Debug, got: &dyn std::fmt::Debug| -> TestResult {
            Err(format!("{what} ({rpc}): {got:?} != {expected:?}").into())
        };
        match (self, reply) {
            (Expect::Ok, _) => Ok(()),
            (Expect::Value(expected), Reply::GetSecret(response)) => {
                let value = text(&response.value)?;
                if value == *expected {
                    Ok(())
                } else {
                    mismatch(expected, &value)
                }
            }
            (Expect::Json(expected), Reply::GetSecret(response)) => {
                let value: serde_json::Value = serde_json::from_slice(&response.value)
                    .map_err(|e| format!("{what} ({rpc}): the value is not JSON: {e}"))?;
                if value == *expected {
                    Ok(())
                } else {
                    mismatch(expected, &value)
                }
            }
            (Expect::Secrets(expected), reply) => {
                let secrets = text_map(secrets(what, rpc, reply)?)?;
                let expected = pairs(expected);
                if secrets == expected {
                    Ok(())
                } else {
                    mismatch(&expected, &secrets)
                }
            }
            (Expect::Keys(expected), reply) => {
                let secrets = secrets(what, rpc, reply)?;
                let mut keys: Vec<&str> = secrets.keys().map(String::as_str).collect();
                keys.sort_unstable();
                if keys == *expected {
                    Ok(())
                } else {
                    mismatch(expected, &keys)
                }
            }
            (Expect::Exists(expected), Reply::SecretExists(response)) => {
                if response.exists == *expected {
                    Ok(())
                } else {
                    mismatch(expected, &response.exists)
                }
            }
            (expect, reply) => Err(format!("{what} ({rpc}): {expect:?} cannot describe the answer {reply:?}").into()),
        }
    }
}

/// The secrets of a GetSecretMap, GetAllSecrets or Generate reply.
fn secrets(what: &str, rpc: &str, reply: Reply) -> TestResult<HashMap<String, Vec<u8>>> {
    match reply {
        Reply::GetSecretMap(response) => Ok(response.secrets),
        Reply::GetAllSecrets(response) => Ok(response.secrets),
        Reply::Generate(response) => Ok(response.secrets),
        reply => Err(format!("{what} ({rpc}): the answer {reply:?} has no secrets").into()),
    }
}

/// Makes each `(case, request, expectation)` of `table`, in order, and checks its
/// answer; stops at the first case that fails, with an error that names it.
pub async fn run_table<'a>(
    client: &mut ProviderClient,
    table: impl IntoIterator<Item = (&'a str, Request, Expect<'a>)>,
) -> TestResult {
    for (case, request, expect) in table {
        let rpc = request.name();
        expect.check(case, rpc, call(client, request).await)?;
    }
    Ok(())
}
