//! The cases, in one table ([`CASES`]), and their bodies.
//!
//! A body checks what the provider answered and returns `Ok(Checked::Passed)`,
//! `Ok(Checked::Skipped(why))` when the target cannot show the behaviour, or an
//! error naming the call and the cause. Bodies never show a value: they compare
//! bytes and report lengths, keys and codes.

use super::session::{Session, code_name, describe_status, same_bytes};
use super::{Case, CaseResult, Checked, Needs};
use crate::client::with_deadline;
use crate::testing::TestResult;
use crate::testing::requests::StoreCall;
use crate::testing::rpc::{Reply, Request, Rpc};
use eso_proto::generator::v1 as gen_wire;
use futures::future::BoxFuture;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tonic::{Code, Status};

/// How many calls `protocol.concurrent-calls` makes at once.
pub(crate) const CONCURRENT_CALLS: usize = 200;
/// The value size of `store.roundtrip.large-value`: ~3.9 MiB, under grpc-go's 4 MiB.
pub(crate) const LARGE_VALUE_BYTES: usize = 39 * 1024 * 1024 / 10;
/// The deadline `protocol.deadline` sends, and how much later the call may end.
const SHORT_DEADLINE: Duration = Duration::from_millis(100);
const DEADLINE_GRACE: Duration = Duration::from_secs(2);
/// The namespaced store kinds the scope cases go through: every upstream core
/// generation's (SecretStore the newest, ProviderStore its April 2026 branches,
/// Provider the earliest).
const NAMESPACED_STORE_KINDS: [&str; 3] = ["SecretStore", "ProviderStore", "Provider"];
/// The cluster store kinds the scope cases go through, likewise.
const CLUSTER_STORE_KINDS: [&str; 3] = ["ClusterSecretStore", "ClusterProviderStore", "ClusterProvider"];
/// A kind no provider serves.
const UNKNOWN_KIND: &str = "EsoConformanceNoSuchKind";

macro_rules! case {
    ($id:literal, $needs:ident, $body:ident, $description:literal, $upstream:literal $(,)?) => {
        Case {
            id: $id,
            description: $description,
            upstream: $upstream,
            needs: Needs::$needs,
            body: $body,
        }
    };
}

/// Every case, in the order they run.
pub(crate) static CASES: &[Case] = &[
    case!(
        "contract.reflection",
        Any,
        contract_reflection,
        "where the provider serves gRPC reflection, the target's service matches the wire contract: methods, messages, field names, numbers and types",
        "ESO core is compiled from this .proto: a renamed, renumbered or retyped field loses or misreads data without an error",
    ),
    case!(
        "fixtures.seed.push",
        Write,
        seed_fixtures,
        "pushes the plain fixtures when the fixtures ask for it (seed: true)",
        "ESO core writes through PushSecret with the Secret's data, key and remote key",
    ),
    case!(
        "store.capabilities.answers",
        Store,
        capabilities_answer,
        "Capabilities answers a known value, the same from a cluster store without source namespace",
        "the core writes Capabilities into the store's status, also for cluster stores (empty source_namespace)",
    ),
    case!(
        "store.validate.valid",
        Store,
        validate_valid,
        "Validate of the target answers valid=true with no error",
        "Validate's error or valid=false makes the store Ready=False",
    ),
    case!(
        "store.validate.cluster-store-without-source",
        Store,
        validate_cluster_without_source,
        "Validate through a ClusterSecretStore with an empty source_namespace answers in-band, never a gRPC error",
        "a cluster-scoped store is validated with an empty source_namespace; problems are reported in-band",
    ),
    case!(
        "store.get.fixtures",
        Read,
        get_fixtures,
        "GetSecret of every fixture with a value (version, property) returns it byte for byte",
        "a provider returns raw bytes; the core decodes and converts them itself",
    ),
    case!(
        "store.get.missing-key",
        Read,
        get_missing_key,
        "GetSecret of a key the backend does not hold is NOT_FOUND",
        "NOT_FOUND from GetSecret means the remote secret is missing (deletionPolicy acts on it)",
    ),
    case!(
        "store.get.missing-version",
        Read,
        get_missing_version,
        "GetSecret of a fixture's key at a version that does not exist is NOT_FOUND",
        "a missing version is a missing remote secret",
    ),
    case!(
        "store.get.missing-property",
        Read,
        get_missing_property,
        "GetSecret of a fixture's key with a property that does not exist is NOT_FOUND",
        "a missing property is a missing remote secret",
    ),
    case!(
        "store.get-map.fixtures",
        Read,
        get_map_fixtures,
        "GetSecretMap of every fixture with a map returns exactly that map",
        "dataFrom.extract reads a secret as a map of keys to raw values",
    ),
    case!(
        "store.get-map.missing-key",
        Read,
        get_map_missing_key,
        "GetSecretMap of a key the backend does not hold is NOT_FOUND",
        "NOT_FOUND from GetSecretMap means the remote secret is missing",
    ),
    case!(
        "store.find.fixtures",
        Read,
        find_fixtures,
        "GetAllSecrets of each find the fixtures declare (by path, name regexp, tags) answers exactly its keys, with the fixtures' values",
        "dataFrom.find by path, name.regexp and tags; the provider decides what matches, the core takes the answer as the Secret's data",
    ),
    case!(
        "store.find.name-regexp",
        Read,
        find_by_name,
        "GetAllSecrets by name regexp returns exactly the matching keys (suite-written and plain fixtures) with their values",
        "dataFrom.find with name.regexp lists secrets by name",
    ),
    case!(
        "store.roundtrip.binary-value",
        ReadWrite,
        roundtrip_binary,
        "PushSecret then GetSecret of every byte value (0x00 and 0xff at both ends) is byte-exact",
        "Secret data is bytes; the core pushes and reads it unchanged",
    ),
    case!(
        "store.roundtrip.empty-value",
        ReadWrite,
        roundtrip_empty,
        "PushSecret then GetSecret of an empty value returns an empty value",
        "an empty Secret key is a value like any other",
    ),
    case!(
        "store.roundtrip.large-value",
        ReadWrite,
        roundtrip_large,
        "PushSecret then GetSecret of a ~3.9 MiB value is byte-exact",
        "grpc-go accepts messages up to 4 MiB; a Secret holds up to 1 MiB per key but whole-Secret pushes are larger",
    ),
    case!(
        "store.roundtrip.unicode-key",
        ReadWrite,
        roundtrip_unicode_key,
        "PushSecret, SecretExists and GetSecret of a key with non-ASCII characters",
        "remote keys are UTF-8 strings in the wire contract",
    ),
    case!(
        "store.lifecycle.push-exists-delete",
        Write,
        lifecycle,
        "push → exists=true → get (when readable) → delete → exists=false → delete again OK",
        "the core calls SecretExists for UpdatePolicy IfNotExists, and its finalizer blocks on a failing DeleteSecret",
    ),
    case!(
        "store.exists.missing-key",
        Write,
        exists_missing,
        "SecretExists of a key the backend does not hold answers exists=false, not an error",
        "SecretExists decides whether an IfNotExists push happens",
    ),
    case!(
        "store.delete.missing-key",
        Write,
        delete_missing,
        "DeleteSecret of a key the backend does not hold is OK",
        "deleting what is already gone must succeed, or the PushSecret finalizer blocks",
    ),
    case!(
        "store.read-only.push-unimplemented",
        ReadOnly,
        read_only_push,
        "a READ_ONLY store answers PushSecret UNIMPLEMENTED",
        "Capabilities tells the core (and users) what a store supports",
    ),
    case!(
        "store.read-only.delete-unimplemented",
        ReadOnly,
        read_only_delete,
        "a READ_ONLY store answers DeleteSecret UNIMPLEMENTED",
        "Capabilities tells the core (and users) what a store supports",
    ),
    case!(
        "errors.missing-object",
        Store,
        missing_object,
        "every store RPC (but Capabilities) about a provider object that does not exist is refused, never NOT_FOUND",
        "only a missing remote secret is NOT_FOUND; a missing object is a configuration problem (FAILED_PRECONDITION)",
    ),
    case!(
        "errors.unknown-kind",
        Store,
        unknown_kind,
        "every store RPC about a kind the provider does not serve is refused, never NOT_FOUND",
        "an unknown kind is UNIMPLEMENTED, not a missing secret",
    ),
    case!(
        "errors.missing-provider-ref",
        Store,
        missing_provider_ref,
        "every store RPC without provider_ref is refused, never NOT_FOUND",
        "a malformed request is INVALID_ARGUMENT, not a missing secret",
    ),
    case!(
        "errors.empty-remote-key",
        Store,
        empty_remote_key,
        "GetSecret, GetSecretMap, PushSecret, DeleteSecret and SecretExists with an empty key are refused, never NOT_FOUND",
        "a malformed request is INVALID_ARGUMENT, not a missing secret",
    ),
    case!(
        "scope.namespaced-store.cross-namespace",
        Store,
        namespaced_cross_namespace,
        "through a SecretStore, ProviderStore or Provider, an object in another namespace than the caller's is PERMISSION_DENIED",
        "a namespaced store never reaches outside its namespace",
    ),
    case!(
        "scope.namespaced-store.empty-provider-namespace",
        Store,
        namespaced_empty_provider_namespace,
        "through a SecretStore, an empty provider_ref.namespace means the caller's namespace",
        "when provider_ref.namespace is empty, the provider object lives in source_namespace",
    ),
    case!(
        "scope.cluster-store.any-source-namespace",
        Store,
        cluster_any_source_namespace,
        "through a ClusterSecretStore, ClusterProviderStore or ClusterProvider, callers from another namespace validate and read the target",
        "a cluster store serves ExternalSecrets of every namespace",
    ),
    case!(
        "generator.generate.returns-keys",
        Generator,
        generate_returns_keys,
        "Generate answers at least one key, none empty",
        "a generator's output becomes the keys of a Secret",
    ),
    case!(
        "generator.cleanup.idempotent",
        Generator,
        cleanup_idempotent,
        "Cleanup with the state Generate returned is OK, and OK again",
        "Cleanup is retried on error; cleaning up what is already gone is success",
    ),
    case!(
        "generator.errors.missing-object",
        Generator,
        generator_missing_object,
        "Generate of a generator object that does not exist is refused, never NOT_FOUND",
        "only a missing remote secret is NOT_FOUND",
    ),
    case!(
        "generator.errors.missing-ref",
        Generator,
        generator_missing_ref,
        "Generate and Cleanup without generator_ref are refused, never NOT_FOUND",
        "a malformed request is INVALID_ARGUMENT",
    ),
    case!(
        "generator.errors.unknown-kind",
        Generator,
        generator_unknown_kind,
        "Generate of a kind the provider does not serve is refused, never NOT_FOUND",
        "an unknown kind is UNIMPLEMENTED",
    ),
    case!(
        "generator.scope.cross-namespace",
        Generator,
        generator_cross_namespace,
        "Generate of a generator object in another namespace than the caller's is PERMISSION_DENIED",
        "generators are namespaced objects, used from their own namespace",
    ),
    case!(
        "protocol.health.serving",
        Any,
        health_serving,
        "grpc.health.v1.Health/Check of the overall service (\"\") answers SERVING",
        "the ProviderClass controller marks the class Ready only on SERVING",
    ),
    case!(
        "protocol.concurrent-calls",
        Any,
        concurrent_calls,
        "200 concurrent GetSecret (stores) or Generate (generators) calls over one connection all answer correctly",
        "one HTTP/2 connection serves every store on an address",
    ),
    case!(
        "protocol.keepalive-pings",
        Any,
        keepalive_pings,
        "a connection pinged every 5 s without calls stays open and serves the next call (two pings, ~11 s)",
        "upstream's provider servers permit client keepalive pings every 5 s, also without calls in flight",
    ),
    case!(
        "protocol.deadline",
        Any,
        deadline,
        "a call with a 100 ms deadline ends within 2 s of it (answered, or DEADLINE_EXCEEDED)",
        "every core call has a deadline (30 s); the provider must not work past it",
    ),
    case!(
        "upstream.push.typed-secret",
        ReadWrite,
        push_typed_secret,
        "PushSecret of one key of a kubernetes.io/basic-auth Secret with labels and annotations, then GetSecret, is byte-exact",
        "upstream's e2e pushes Secrets of other types with labels and annotations; the core sends them along, a provider that does not use them still pushes",
    ),
    case!(
        "upstream.implicit-store-kind",
        Store,
        implicit_store_kind,
        "Validate with an empty store_ref_kind is a namespaced store's: valid from its own namespace, PERMISSION_DENIED from another",
        "a storeRef without kind means SecretStore in ESO, and cores before store_ref_kind existed send none",
    ),
    case!(
        "upstream.fan-out.one-connection",
        Read,
        fan_out_one_connection,
        "calls for several stores interleaved on one connection (the target through each store kind, a missing object, another namespace) each answer as the same call alone",
        "ESO core multiplexes every store's calls over one connection per provider; nothing may leak from one call to the next",
    ),
    case!(
        "errors.no-value-in-messages",
        Any,
        no_value_in_messages,
        "no error message of this run holds a known value (fixture, pushed or generated), as is or base64",
        "error messages reach the ExternalSecret's status and logs, which are not secret",
    ),
];

macro_rules! body {
    ($name:ident, |$s:ident| $body:block) => {
        fn $name($s: &mut Session) -> BoxFuture<'_, CaseResult> {
            Box::pin(async move { $body })
        }
    };
}

fn passed() -> CaseResult {
    Ok(Checked::Passed)
}

fn skipped(why: impl Into<String>) -> CaseResult {
    Ok(Checked::Skipped(why.into()))
}

/// Fails with every failure, one after the other (and, once, what NOT_FOUND
/// means when one of them is an unexpected NOT_FOUND); passes when there are none.
fn all_of(failures: Vec<String>) -> CaseResult {
    if failures.is_empty() {
        return passed();
    }
    let mut why = failures.join("; ");
    if failures.iter().any(|f| f.contains(UNEXPECTED_NOT_FOUND)) {
        why.push_str(" (NOT_FOUND means only that the remote secret does not exist: ESO core may delete the target Secret on it)");
    }
    Err(why.into())
}

/// [`all_of`] for one check.
fn one(result: Result<(), String>) -> CaseResult {
    all_of(result.err().into_iter().collect())
}

const UNEXPECTED_NOT_FOUND: &str = ": NOT_FOUND (";

/// The call was refused with any code but NOT_FOUND (or answered Validate in-band).
fn refused_not_not_found(what: &str, result: &Result<Reply, Status>) -> Result<(), String> {
    match result {
        Ok(_) => Err(format!("{what}: answered OK; expected a refusal")),
        Err(status) if status.code() == Code::NotFound => {
            Err(format!("{what}{UNEXPECTED_NOT_FOUND}{})", status.message()))
        }
        Err(_) => Ok(()),
    }
}

/// The call was refused with exactly `code`.
fn refused_with(what: &str, result: &Result<Reply, Status>, code: Code) -> Result<(), String> {
    match result {
        Ok(_) => Err(format!("{what}: answered OK; expected {}", code_name(code))),
        Err(status) if status.code() == code => Ok(()),
        Err(status) => Err(format!(
            "{what}: expected {}, got {}",
            code_name(code),
            describe_status(status)
        )),
    }
}

fn status_failure(what: &str, status: &Status) -> String {
    format!("{what}: {}", describe_status(status))
}

/// A request of `rpc` made with `call`, about `key` where it has one.
fn rpc_request(rpc: Rpc, call: &StoreCall, key: &str, value: &str) -> Request {
    match rpc {
        Rpc::GetSecret => call.get(key, "", "").into(),
        Rpc::GetSecretMap => call.get_map(key, "", "").into(),
        Rpc::GetAllSecrets => call.find("", &format!("^{}$", regex::escape(key)), &[]).into(),
        Rpc::PushSecret => call.push(&[("value", value)], "value", key, "", "").into(),
        Rpc::DeleteSecret => call.delete(key, "").into(),
        Rpc::SecretExists => call.exists(key, "").into(),
        Rpc::Validate => call.validate().into(),
        Rpc::Capabilities => call.capabilities().into(),
    }
}

fn reads(rpc: Rpc) -> bool {
    matches!(rpc, Rpc::GetSecret | Rpc::GetSecretMap | Rpc::GetAllSecrets)
}

fn writes(rpc: Rpc) -> bool {
    matches!(rpc, Rpc::PushSecret | Rpc::DeleteSecret | Rpc::SecretExists)
}

// ---------------------------------------------------------------- fixtures

body!(seed_fixtures, |s| {
    if !s.fixtures.seed {
        return skipped("the fixtures do not ask for seeding (seed: true)");
    }
    let plain: Vec<(String, Vec<u8>)> = s
        .fixtures
        .plain()
        .filter_map(|f| f.value.clone().map(|v| (f.key.clone(), v)))
        .collect();
    if plain.is_empty() {
        return skipped("no plain fixture (value, no version, no property) to seed");
    }
    for (key, value) in plain {
        s.push(&key, &value).await.map_err(|status| {
            status_failure(
                &format!("PushSecret of fixture {}", crate::display::bounded(&key)),
                &status,
            )
        })?;
    }
    passed()
});

// ---------------------------------------------------------------- capabilities, validate

body!(capabilities_answer, |s| {
    let first = s.capabilities.clone()?;
    let request = s
        .target
        .store_call()
        .through("ClusterSecretStore")
        .from_namespace("")
        .capabilities();
    match s
        .call(
            "Capabilities through a ClusterSecretStore without source namespace",
            request,
        )
        .await
    {
        Ok(Reply::Capabilities(response)) => {
            if response.capabilities != first as i32 {
                return Err(format!(
                    "Capabilities answered {} from the target's namespace and {} from a cluster store without source namespace",
                    first.as_str_name(),
                    response.capabilities
                )
                .into());
            }
            passed()
        }
        Ok(_) => Err("Capabilities answered another message".into()),
        Err(status) => Err(status_failure(
            "Capabilities through a ClusterSecretStore without source namespace",
            &status,
        )
        .into()),
    }
});

/// Validate with `call` must answer valid=true.
async fn expect_valid(s: &mut Session, what: &str, call: &StoreCall) -> TestResult {
    match s.call(what, call.validate()).await {
        Ok(Reply::Validate(response)) if response.valid && response.error.is_empty() => Ok(()),
        Ok(Reply::Validate(response)) => Err(format!(
            "{what}: valid={} error {:?}",
            response.valid,
            crate::display::bounded(&response.error).to_string()
        )
        .into()),
        Ok(_) => Err(format!("{what}: answered another message").into()),
        Err(status) => Err(status_failure(what, &status).into()),
    }
}

body!(validate_valid, |s| {
    let call = s.target.store_call();
    expect_valid(s, "Validate", &call).await?;
    passed()
});

body!(validate_cluster_without_source, |s| {
    let call = s.target.store_call().through("ClusterSecretStore").from_namespace("");
    let what = "Validate through a ClusterSecretStore without source namespace";
    match s.call(what, call.validate()).await {
        Ok(Reply::Validate(_)) => passed(),
        Ok(_) => Err(format!("{what}: answered another message").into()),
        Err(status) => Err(format!(
            "{what}: a gRPC error ({}) instead of an in-band answer (valid, error)",
            describe_status(&status)
        )
        .into()),
    }
});

// ---------------------------------------------------------------- reads

body!(get_fixtures, |s| {
    let fixtures: Vec<_> = s
        .fixtures
        .secrets
        .iter()
        .filter(|f| f.value.is_some())
        .cloned()
        .collect();
    if fixtures.is_empty() {
        return skipped("no fixture has a value (give --fixtures)");
    }
    let mut failures = Vec::new();
    for fixture in fixtures {
        let what = format!("GetSecret of fixture {}", fixture.label());
        let version = fixture.version.as_deref().unwrap_or("");
        let property = fixture.property.as_deref().unwrap_or("");
        match s.get(&fixture.key, version, property).await {
            Ok(value) => {
                if let Err(failure) = same_bytes(&what, &value, fixture.value.as_deref().unwrap_or_default()) {
                    failures.push(failure.message().to_string());
                }
            }
            Err(status) => failures.push(status_failure(&what, &status)),
        }
    }
    all_of(failures)
});

body!(get_missing_key, |s| {
    let key = s.missing_key();
    let request = s.target.store_call().get(&key, "", "");
    let what = format!("GetSecret of the missing key {}", crate::display::bounded(&key));
    let result = s.call(&what, request).await;
    refused_with(&what, &result, Code::NotFound)?;
    passed()
});

body!(get_missing_version, |s| {
    let Some(fixture) = s.fixtures.secrets.iter().find(|f| f.version.is_some()).cloned() else {
        return skipped("no fixture has a version");
    };
    let version = s.fixtures.missing_version_of(&fixture);
    let request = s
        .target
        .store_call()
        .get(&fixture.key, &version, fixture.property.as_deref().unwrap_or(""));
    let what = format!(
        "GetSecret of fixture {} at version {}",
        crate::display::bounded(&fixture.key),
        crate::display::bounded(&version)
    );
    let result = s.call(&what, request).await;
    refused_with(&what, &result, Code::NotFound)?;
    passed()
});

body!(get_missing_property, |s| {
    let Some(fixture) = s.fixtures.secrets.iter().find(|f| f.property.is_some()).cloned() else {
        return skipped("no fixture has a property");
    };
    let request = s.target.store_call().get(
        &fixture.key,
        fixture.version.as_deref().unwrap_or(""),
        "eso-conformance-no-such-property",
    );
    let what = format!(
        "GetSecret of fixture {} property eso-conformance-no-such-property",
        crate::display::bounded(&fixture.key)
    );
    let result = s.call(&what, request).await;
    refused_with(&what, &result, Code::NotFound)?;
    passed()
});

body!(get_map_fixtures, |s| {
    let fixtures: Vec<_> = s.fixtures.secrets.iter().filter(|f| f.map.is_some()).cloned().collect();
    if fixtures.is_empty() {
        return skipped("no fixture has a map");
    }
    let mut failures = Vec::new();
    for fixture in fixtures {
        let what = format!("GetSecretMap of fixture {}", fixture.label());
        let request = s.target.store_call().get_map(
            &fixture.key,
            fixture.version.as_deref().unwrap_or(""),
            fixture.property.as_deref().unwrap_or(""),
        );
        let expected = fixture.map.clone().unwrap_or_default();
        match s.call(&what, request).await {
            Ok(Reply::GetSecretMap(response)) => {
                let got: BTreeMap<String, Vec<u8>> = response.secrets.into_iter().collect();
                let got_keys: Vec<&String> = got.keys().collect();
                let expected_keys: Vec<&String> = expected.keys().collect();
                if got_keys != expected_keys {
                    failures.push(format!("{what}: keys {got_keys:?}, expected {expected_keys:?}"));
                    continue;
                }
                for (key, value) in &expected {
                    if let Err(failure) = same_bytes(&format!("{what} key {key}"), &got[key], value) {
                        failures.push(failure.message().to_string());
                    }
                }
            }
            Ok(_) => failures.push(format!("{what}: answered another message")),
            Err(status) => failures.push(status_failure(&what, &status)),
        }
    }
    all_of(failures)
});

body!(get_map_missing_key, |s| {
    let key = s.missing_key();
    let request = s.target.store_call().get_map(&key, "", "");
    let what = format!("GetSecretMap of the missing key {}", crate::display::bounded(&key));
    let result = s.call(&what, request).await;
    if let Err(status) = &result
        && status.code() == Code::Unimplemented
    {
        return skipped("GetSecretMap is not implemented (UNIMPLEMENTED)");
    }
    refused_with(&what, &result, Code::NotFound)?;
    passed()
});

/// GetAllSecrets of `regexp` must answer exactly `expected`.
async fn expect_found(
    s: &mut Session,
    what: &str,
    regexp: &str,
    expected: &BTreeMap<String, Vec<u8>>,
) -> TestResult<Option<String>> {
    let request = s.target.store_call().find("", regexp, &[]);
    let keys: Vec<&String> = expected.keys().collect();
    expect_answer(s, what, request, &keys, expected).await
}

/// Sends `request`; the answer must hold exactly `keys`, and the values of
/// those in `values` byte for byte. `Some(why)` when GetAllSecrets is not implemented.
async fn expect_answer(
    s: &mut Session,
    what: &str,
    request: eso_proto::provider::v1::GetAllSecretsRequest,
    keys: &[&String],
    values: &BTreeMap<String, Vec<u8>>,
) -> TestResult<Option<String>> {
    match s.call(what, request).await {
        Ok(Reply::GetAllSecrets(response)) => {
            let got: BTreeMap<String, Vec<u8>> = response.secrets.into_iter().collect();
            let got_keys: Vec<&String> = got.keys().collect();
            let expected_keys: Vec<&String> = keys.to_vec();
            if got_keys != expected_keys {
                let shown: Vec<String> = got_keys
                    .iter()
                    .take(20)
                    .map(|k| crate::display::bounded(k).to_string())
                    .collect();
                return Err(format!("{what}: found keys {shown:?}, expected {expected_keys:?}").into());
            }
            for (key, value) in values {
                if let Some(found) = got.get(key) {
                    same_bytes(&format!("{what}: key {key}"), found, value)?;
                }
            }
            Ok(None)
        }
        Ok(_) => Err(format!("{what}: answered another message").into()),
        Err(status) if status.code() == Code::Unimplemented => {
            Ok(Some("GetAllSecrets is not implemented (UNIMPLEMENTED)".into()))
        }
        Err(status) => Err(status_failure(what, &status).into()),
    }
}

body!(find_fixtures, |s| {
    if s.fixtures.finds.is_empty() {
        return skipped("the fixtures declare no finds (finds: path, regexp, tags and the keys each answers)");
    }
    let plain: BTreeMap<String, Vec<u8>> = s
        .fixtures
        .plain()
        .filter_map(|f| f.value.clone().map(|v| (f.key.clone(), v)))
        .collect();
    for find in s.fixtures.finds.clone() {
        let tags: Vec<(&str, &str)> = find.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let request = s.target.store_call().find(
            find.path.as_deref().unwrap_or(""),
            find.regexp.as_deref().unwrap_or(""),
            &tags,
        );
        let what = format!("GetAllSecrets by {}", find.label());
        let keys: Vec<&String> = find.keys.iter().collect();
        let values: BTreeMap<String, Vec<u8>> = plain
            .iter()
            .filter(|(key, _)| find.keys.contains(*key))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(why) = expect_answer(s, &what, request, &keys, &values).await? {
            return skipped(why);
        }
    }
    passed()
});

body!(find_by_name, |s| {
    let mut checked = false;
    if s.can_read_write() {
        let mut expected = BTreeMap::new();
        for name in ["find-1", "find-2"] {
            let key = s.key(name);
            let value = s.value(name);
            s.push(&key, &value)
                .await
                .map_err(|status| status_failure(&format!("PushSecret to {key}"), &status))?;
            expected.insert(key, value);
        }
        let decoy = s.key("other-1");
        let decoy_value = s.value("other-1");
        s.push(&decoy, &decoy_value)
            .await
            .map_err(|status| status_failure(&format!("PushSecret to {decoy}"), &status))?;
        let regexp = format!("^{}find-", regex::escape(s.prefix()));
        let what = format!("GetAllSecrets by name {regexp} (the suite's keys)");
        let found = if s.fixtures.push_property.is_some() {
            // Pushed under a property: the answer holds each whole secret, as the
            // store encodes it; only the keys are known.
            let request = s.target.store_call().find("", &regexp, &[]);
            let keys: Vec<&String> = expected.keys().collect();
            expect_answer(s, &what, request, &keys, &BTreeMap::new()).await?
        } else {
            expect_found(s, &what, &regexp, &expected).await?
        };
        if let Some(why) = found {
            return skipped(why);
        }
        checked = true;
    }
    let mut plain = BTreeMap::new();
    for fixture in s.fixtures.plain().take(20) {
        if let Some(value) = &fixture.value {
            plain.entry(fixture.key.clone()).or_insert_with(|| value.clone());
        }
    }
    if !plain.is_empty() {
        let alternatives: Vec<String> = plain.keys().map(|k| regex::escape(k)).collect();
        let regexp = format!("^(?:{})$", alternatives.join("|"));
        let what = "GetAllSecrets by name of the plain fixtures".to_string();
        if let Some(why) = expect_found(s, &what, &regexp, &plain).await? {
            return skipped(why);
        }
        checked = true;
    }
    if !checked {
        return skipped("no plain fixture to find, and the store is not READ_WRITE (nothing to seed)");
    }
    passed()
});

// ---------------------------------------------------------------- writes

/// Push `value` to `key`, read it back byte-exact.
async fn roundtrip(s: &mut Session, key: &str, value: &[u8]) -> TestResult {
    let shown = crate::display::bounded(key).to_string();
    s.push(key, value)
        .await
        .map_err(|status| status_failure(&format!("PushSecret of {} bytes to {shown}", value.len()), &status))?;
    let got = s
        .get(key, "", "")
        .await
        .map_err(|status| status_failure(&format!("GetSecret of {shown} after PushSecret"), &status))?;
    same_bytes(&format!("GetSecret of {shown} after PushSecret"), &got, value)
}

body!(roundtrip_binary, |s| {
    if s.fixtures.text_values {
        return skipped("the fixtures say the backend stores text only (textValues: true)");
    }
    let key = s.key("binary");
    let mut value = vec![0x00, 0xff];
    value.extend(0..=255u8);
    value.extend([0xff, 0x00]);
    roundtrip(s, &key, &value).await?;
    passed()
});

body!(roundtrip_empty, |s| {
    let key = s.key("empty");
    roundtrip(s, &key, b"").await?;
    passed()
});

body!(roundtrip_large, |s| {
    let key = s.key("large");
    let value = s.printable(LARGE_VALUE_BYTES);
    s.remember(format!("the large value pushed to {key}"), &value);
    roundtrip(s, &key, &value).await?;
    // Do not keep ~4 MiB on the backend until the end of the run.
    let _ = s.delete(&key).await;
    s.pushed.remove(&key);
    passed()
});

body!(roundtrip_unicode_key, |s| {
    let key = s.key("unicode-ключ-🔑-キー");
    let value = s.value("unicode");
    roundtrip(s, &key, &value).await?;
    let exists = s
        .exists(&key)
        .await
        .map_err(|status| status_failure("SecretExists of the unicode key", &status))?;
    if !exists {
        return Err("SecretExists of the unicode key after PushSecret: exists=false".into());
    }
    passed()
});

body!(lifecycle, |s| {
    let key = s.key("lifecycle");
    let value = s.value("lifecycle");
    let shown = crate::display::bounded(&key).to_string();
    s.push(&key, &value)
        .await
        .map_err(|status| status_failure(&format!("PushSecret to {shown}"), &status))?;
    let step = |name: &str| format!("{name} of {shown}");
    match s.exists(&key).await {
        Ok(true) => {}
        Ok(false) => return Err(format!("{} after PushSecret: exists=false", step("SecretExists")).into()),
        Err(status) => return Err(status_failure(&step("SecretExists after PushSecret"), &status).into()),
    }
    if s.can_read() {
        let got = s
            .get(&key, "", "")
            .await
            .map_err(|status| status_failure(&step("GetSecret after PushSecret"), &status))?;
        same_bytes(&step("GetSecret after PushSecret"), &got, &value)?;
    }
    s.delete(&key)
        .await
        .map_err(|status| status_failure(&step("DeleteSecret"), &status))?;
    match s.exists(&key).await {
        Ok(false) => {}
        Ok(true) => return Err(format!("{} after DeleteSecret: exists=true", step("SecretExists")).into()),
        Err(status) => return Err(status_failure(&step("SecretExists after DeleteSecret"), &status).into()),
    }
    s.delete(&key).await.map_err(|status| {
        status_failure(
            &format!("{} again (ESO core's finalizer would block)", step("DeleteSecret")),
            &status,
        )
    })?;
    s.pushed.remove(&key);
    passed()
});

body!(exists_missing, |s| {
    let key = s.missing_key();
    match s.exists(&key).await {
        Ok(false) => passed(),
        Ok(true) => Err(format!(
            "SecretExists of the missing key {}: exists=true",
            crate::display::bounded(&key)
        )
        .into()),
        Err(status) => Err(status_failure(
            &format!("SecretExists of the missing key {}", crate::display::bounded(&key)),
            &status,
        )
        .into()),
    }
});

body!(delete_missing, |s| {
    let key = s.missing_key();
    s.delete(&key).await.map_err(|status| {
        status_failure(
            &format!("DeleteSecret of the missing key {}", crate::display::bounded(&key)),
            &status,
        )
    })?;
    passed()
});

body!(read_only_push, |s| {
    let key = s.key("read-only");
    let value = s.value("read-only");
    let result = s
        .push(&key, &value)
        .await
        .map(|()| Reply::PushSecret(Default::default()));
    refused_with("PushSecret to a READ_ONLY store", &result, Code::Unimplemented)?;
    passed()
});

body!(read_only_delete, |s| {
    let key = s.key("read-only");
    let result = s.delete(&key).await.map(|()| Reply::DeleteSecret(Default::default()));
    refused_with("DeleteSecret on a READ_ONLY store", &result, Code::Unimplemented)?;
    passed()
});

// ---------------------------------------------------------------- error semantics

/// Every RPC in `rpcs` made with `call` is refused, never NOT_FOUND (Validate may answer in-band).
async fn refused_everywhere(s: &mut Session, case: &str, call: &StoreCall, rpcs: &[Rpc]) -> CaseResult {
    let key = s.key("db");
    let value = String::from_utf8_lossy(&s.value("push")).into_owned();
    let mut failures = Vec::new();
    for rpc in rpcs {
        let what = format!("{rpc:?} {case}");
        let (result, _) = s.call_in_band(&what, rpc_request(*rpc, call, &key, &value)).await;
        if let Err(failure) = refused_not_not_found(&what, &result) {
            failures.push(failure);
        }
    }
    all_of(failures)
}

body!(missing_object, |s| {
    let mut reference = s.target.provider_ref();
    reference.name = s.missing_object();
    let call = StoreCall::from_ref(reference, &s.target.namespace);
    let rpcs: Vec<Rpc> = Rpc::ALL.into_iter().filter(|r| *r != Rpc::Capabilities).collect();
    refused_everywhere(s, "of a missing provider object", &call, &rpcs).await
});

body!(unknown_kind, |s| {
    let mut reference = s.target.provider_ref();
    reference.kind = UNKNOWN_KIND.to_string();
    let call = StoreCall::from_ref(reference, &s.target.namespace);
    refused_everywhere(s, &format!("of the unknown kind {UNKNOWN_KIND}"), &call, &Rpc::ALL).await
});

body!(missing_provider_ref, |s| {
    let mut failures = Vec::new();
    for rpc in Rpc::ALL {
        let what = format!("{rpc:?} without provider_ref");
        let (result, _) = s
            .call_in_band(&what, rpc.request(None, &s.target.namespace.clone()))
            .await;
        if let Err(failure) = refused_not_not_found(&what, &result) {
            failures.push(failure);
        }
    }
    all_of(failures)
});

body!(empty_remote_key, |s| {
    let call = s.target.store_call();
    let value = String::from_utf8_lossy(&s.value("empty-key")).into_owned();
    let mut failures = Vec::new();
    for rpc in [
        Rpc::GetSecret,
        Rpc::GetSecretMap,
        Rpc::PushSecret,
        Rpc::DeleteSecret,
        Rpc::SecretExists,
    ] {
        let what = format!("{rpc:?} with an empty key");
        let result = s.call(&what, rpc_request(rpc, &call, "", &value)).await;
        if let Err(failure) = refused_not_not_found(&what, &result) {
            failures.push(failure);
        }
    }
    all_of(failures)
});

// ---------------------------------------------------------------- scopes

body!(namespaced_cross_namespace, |s| {
    let other = s.other_namespace();
    let key = s.key("db");
    let value = String::from_utf8_lossy(&s.value("scope")).into_owned();
    let (read, write) = (s.can_read(), s.can_write());
    let mut failures = Vec::new();
    for kind in NAMESPACED_STORE_KINDS {
        let call = s.target.store_call().through(kind).from_namespace(&other);
        for rpc in Rpc::ALL {
            let applies = match rpc {
                Rpc::Capabilities => false,
                rpc if reads(rpc) => read,
                rpc if writes(rpc) => write,
                _ => true,
            };
            if !applies {
                continue;
            }
            let what = format!("{rpc:?} through a {kind} from namespace {other}");
            let result = s.call(&what, rpc_request(rpc, &call, &key, &value)).await;
            if let Err(failure) = refused_with(&what, &result, Code::PermissionDenied) {
                failures.push(failure);
            }
        }
    }
    all_of(failures)
});

body!(namespaced_empty_provider_namespace, |s| {
    let mut reference = s.target.provider_ref();
    reference.namespace = String::new();
    reference.store_ref_kind = "SecretStore".into();
    let call = StoreCall::from_ref(reference, &s.target.namespace);
    let what = format!(
        "Validate through a SecretStore with an empty provider_ref.namespace from namespace {}",
        crate::display::bounded(&s.target.namespace)
    );
    expect_valid(s, &what, &call).await?;
    passed()
});

body!(cluster_any_source_namespace, |s| {
    let other = s.other_namespace();
    let readable = if s.can_read() { s.readable().await? } else { None };
    for kind in CLUSTER_STORE_KINDS {
        let call = s.target.store_call().through(kind).from_namespace(&other);
        expect_valid(s, &format!("Validate through a {kind} from namespace {other}"), &call).await?;
        if let Some((key, value)) = &readable {
            let what = format!(
                "GetSecret of {} through a {kind} from namespace {other}",
                crate::display::bounded(key)
            );
            let property = s.read_property(key);
            match s.call(&what, call.get(key, "", &property)).await {
                Ok(Reply::GetSecret(response)) => same_bytes(&what, &response.value, value)?,
                Ok(_) => return Err(format!("{what}: answered another message").into()),
                Err(status) => return Err(status_failure(&what, &status).into()),
            }
        }
    }
    passed()
});

// ---------------------------------------------------------------- generators

/// Generate of the target: its secrets and state (remembering the values).
async fn generate(s: &mut Session, what: &str) -> TestResult<gen_wire::GenerateResponse> {
    let request = s.target.generator_call().generate();
    match s.call(what, request).await {
        Ok(Reply::Generate(response)) => {
            for (key, value) in &response.secrets {
                s.remember(
                    format!("the value generated under {}", crate::display::bounded(key)),
                    value,
                );
            }
            Ok(response)
        }
        Ok(_) => Err(format!("{what}: answered another message").into()),
        Err(status) => Err(status_failure(what, &status).into()),
    }
}

async fn cleanup(s: &mut Session, what: &str, state: Vec<u8>) -> TestResult {
    let request = s.target.generator_call().cleanup(state);
    s.call(what, request)
        .await
        .map(|_| ())
        .map_err(|status| status_failure(what, &status).into())
}

body!(generate_returns_keys, |s| {
    let response = generate(s, "Generate").await?;
    let _ = cleanup(s, "Cleanup after Generate", response.state.clone()).await;
    if response.secrets.is_empty() {
        return Err("Generate answered no key".into());
    }
    if response.secrets.contains_key("") {
        return Err("Generate answered an empty key".into());
    }
    passed()
});

body!(cleanup_idempotent, |s| {
    let response = generate(s, "Generate").await?;
    cleanup(s, "Cleanup with the state Generate returned", response.state.clone()).await?;
    cleanup(s, "Cleanup again with the same state", response.state).await?;
    passed()
});

body!(generator_missing_object, |s| {
    let mut reference = s.target.generator_ref();
    reference.name = s.missing_object();
    let request = gen_wire::GenerateRequest {
        generator_ref: Some(reference),
        source_namespace: s.target.namespace.clone(),
    };
    let what = "Generate of a missing generator object";
    let result = s.call(what, request).await;
    one(refused_not_not_found(what, &result))
});

body!(generator_missing_ref, |s| {
    let namespace = s.target.namespace.clone();
    let mut failures = Vec::new();
    let requests: [(&str, Request); 2] = [
        (
            "Generate without generator_ref",
            gen_wire::GenerateRequest {
                generator_ref: None,
                source_namespace: namespace.clone(),
            }
            .into(),
        ),
        (
            "Cleanup without generator_ref",
            gen_wire::CleanupRequest {
                generator_ref: None,
                state: Vec::new(),
                source_namespace: namespace,
            }
            .into(),
        ),
    ];
    for (what, request) in requests {
        let result = s.call(what, request).await;
        if let Err(failure) = refused_not_not_found(what, &result) {
            failures.push(failure);
        }
    }
    all_of(failures)
});

body!(generator_unknown_kind, |s| {
    let mut reference = s.target.generator_ref();
    reference.kind = UNKNOWN_KIND.to_string();
    let request = gen_wire::GenerateRequest {
        generator_ref: Some(reference),
        source_namespace: s.target.namespace.clone(),
    };
    let what = format!("Generate of the unknown kind {UNKNOWN_KIND}");
    let result = s.call(&what, request).await;
    one(refused_not_not_found(&what, &result))
});

body!(generator_cross_namespace, |s| {
    let other = s.other_namespace();
    let request = s.target.generator_call().from_namespace(&other).generate();
    let what = format!("Generate from namespace {other}");
    let result = s.call(&what, request).await;
    if let Ok(Reply::Generate(response)) = &result {
        // A broken provider generated anyway: clean up what it made.
        let state = response.state.clone();
        let _ = cleanup(s, "Cleanup after a cross-namespace Generate", state).await;
    }
    refused_with(&what, &result, Code::PermissionDenied)?;
    passed()
});

// ---------------------------------------------------------------- contract

/// How many differences a failure lists before it counts the rest.
const MAX_DRIFT_LISTED: usize = 20;

body!(contract_reflection, |s| {
    use super::contract::{Schema, Served, drift, served};
    let service = match s.target.service {
        super::Service::Store => eso_proto::SECRET_STORE_SERVICE,
        super::Service::Generator => eso_proto::GENERATOR_SERVICE,
    };
    let contract = Schema::contract()?;
    let Served::Schema(described) = served(&s.client.channel, &contract, service).await? else {
        return skipped("the provider serves no gRPC reflection (grpc.reflection.v1 or v1alpha): nothing to compare");
    };
    let found = drift(&contract, &described, service);
    if found.is_empty() {
        return passed();
    }
    let mut listed = found
        .iter()
        .take(MAX_DRIFT_LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if found.len() > MAX_DRIFT_LISTED {
        listed.push_str(&format!("; and {} more", found.len() - MAX_DRIFT_LISTED));
    }
    Err(format!(
        "{} difference(s) from the wire contract ({}): {listed}",
        found.len(),
        super::SUITE_VERSION
    )
    .into())
});

// ---------------------------------------------------------------- upstream profile

body!(push_typed_secret, |s| {
    let key = s.key("typed");
    let value = s.value("typed");
    let shown = crate::display::bounded(&key).to_string();
    s.remember(format!("the value the suite pushed to {shown}"), &value);
    let property = s.fixtures.push_property.clone().unwrap_or_default();
    let mut request = s.target.store_call().push(&[], "password", &key, &property, "");
    request.secret_data = [
        ("username".to_string(), b"eso-conformance-user".to_vec()),
        ("password".to_string(), value.clone()),
    ]
    .into_iter()
    .collect();
    request.secret_type = "kubernetes.io/basic-auth".into();
    request.secret_labels = [("app.kubernetes.io/name".to_string(), "eso-conformance".to_string())]
        .into_iter()
        .collect();
    request.secret_annotations = [("eso-conformance/run".to_string(), s.prefix().to_string())]
        .into_iter()
        .collect();
    let what = format!(
        "PushSecret of {shown} (key password of a kubernetes.io/basic-auth Secret with labels and annotations)"
    );
    s.pushed.insert(key.clone());
    s.call(&what, request)
        .await
        .map_err(|status| status_failure(&what, &status))?;
    let got = s
        .get(&key, "", "")
        .await
        .map_err(|status| status_failure(&format!("GetSecret of {shown} after the typed push"), &status))?;
    same_bytes(&format!("GetSecret of {shown} after the typed push"), &got, &value)?;
    passed()
});

body!(implicit_store_kind, |s| {
    let implicit = s.target.store_call().through("");
    expect_valid(s, "Validate with an empty store_ref_kind", &implicit).await?;
    let other = s.other_namespace();
    let elsewhere = StoreCall::from_ref(
        eso_proto::provider::v1::ProviderReference {
            store_ref_kind: String::new(),
            ..s.target.provider_ref()
        },
        &other,
    );
    let what = format!("Validate with an empty store_ref_kind from namespace {other}");
    let result = s.call(&what, elsewhere.validate()).await;
    refused_with(&what, &result, Code::PermissionDenied)?;
    passed()
});

/// How many calls of each kind `upstream.fan-out.one-connection` interleaves.
const FAN_OUT_CALLS: usize = 20;

body!(fan_out_one_connection, |s| {
    let Some((key, _)) = s.readable().await? else {
        return skipped("no value to read: give a plain fixture, or run against a READ_WRITE store");
    };
    let property = s.read_property(&key);
    let other = s.other_namespace();
    let missing = s.missing_object();
    let mut calls: Vec<(String, eso_proto::provider::v1::GetSecretRequest)> = Vec::new();
    for kind in NAMESPACED_STORE_KINDS {
        let call = s.target.store_call().through(kind);
        calls.push((format!("through a {kind}"), call.get(&key, "", &property)));
    }
    for kind in CLUSTER_STORE_KINDS {
        let call = s.target.store_call().through(kind).from_namespace(&other);
        calls.push((format!("through a {kind} from {other}"), call.get(&key, "", &property)));
    }
    let elsewhere = StoreCall::from_ref(s.target.provider_ref(), &other);
    calls.push((
        format!("through a SecretStore from {other}"),
        elsewhere.get(&key, "", &property),
    ));
    let mut absent = s.target.clone();
    absent.name = missing;
    calls.push((
        "of a missing provider object".to_string(),
        absent.store_call().get(&key, "", &property),
    ));
    // Each call alone first: what it answers (a value, or a code). The scope and
    // error cases judge those answers; this case judges only that interleaving
    // them changes none.
    let answer = |result: Result<tonic::Response<eso_proto::provider::v1::GetSecretResponse>, Status>| match result {
        Ok(response) => Ok(response.into_inner().value),
        Err(status) => Err(status.code()),
    };
    let mut alone = Vec::with_capacity(calls.len());
    for (_, request) in &calls {
        alone.push(answer(s.client.store.clone().get_secret(request.clone()).await));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..FAN_OUT_CALLS {
        for ((what, request), expected) in calls.iter().zip(&alone) {
            let mut store = s.client.store.clone();
            let request = request.clone();
            let expected = expected.clone();
            let what = what.clone();
            tasks.spawn(async move {
                let got = answer(store.get_secret(request).await);
                let wrong = match (&expected, &got) {
                    _ if got == expected => None,
                    (Ok(_), Ok(_)) => Some("answered another value than the same call alone".to_string()),
                    (Err(code), Ok(_)) => Some(format!(
                        "answered a value, the same call alone answered {}",
                        code_name(*code)
                    )),
                    (_, Err(code)) => Some(format!(
                        "{}, the same call alone answered {}",
                        code_name(*code),
                        match &expected {
                            Ok(_) => "a value".to_string(),
                            Err(code) => code_name(*code).to_string(),
                        }
                    )),
                };
                (round, what, wrong)
            });
        }
    }
    let mut wrong = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, _, None)) => {}
            Ok((round, what, Some(why))) => wrong.push(format!("GetSecret {what} (round {round}): {why}")),
            Err(error) => wrong.push(format!("a call task failed: {error}")),
        }
    }
    if !wrong.is_empty() {
        let count = wrong.len();
        wrong.sort();
        // One line per call kind: the rounds repeat it.
        wrong.dedup_by(|a, b| a.split(" (round").next() == b.split(" (round").next());
        return Err(format!(
            "{count} of {} interleaved calls went wrong: {}",
            calls.len() * FAN_OUT_CALLS,
            wrong.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
        )
        .into());
    }
    passed()
});

// ---------------------------------------------------------------- protocol

body!(health_serving, |s| {
    use tonic_health::pb::health_check_response::ServingStatus;
    let mut health = tonic_health::pb::health_client::HealthClient::new(s.client.channel.clone());
    let response = health
        .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .map_err(|status| status_failure("Health/Check of \"\"", &status))?
        .into_inner();
    if response.status != ServingStatus::Serving as i32 {
        let name = ServingStatus::try_from(response.status).map_or("an unknown value", |s| s.as_str_name());
        return Err(format!("Health/Check of \"\": {name}, expected SERVING").into());
    }
    passed()
});

/// The ping interval upstream's provider servers permit (grpc-go `MinTime`).
const PING_INTERVAL: Duration = Duration::from_secs(5);

body!(keepalive_pings, |s| {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let connects = Arc::new(AtomicUsize::new(0));
    let endpoint = s
        .client
        .endpoint()
        .clone()
        .http2_keep_alive_interval(PING_INTERVAL)
        .keep_alive_timeout(PING_INTERVAL)
        .keep_alive_while_idle(true);
    let channel = endpoint
        .connect_with_connector(CountingConnector(Arc::clone(&connects)))
        .await
        .map_err(|error| format!("a second connection: {}", crate::client::error_chain(&error)))?;
    tokio::time::sleep(PING_INTERVAL * 2 + Duration::from_secs(1)).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    health
        .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .map_err(|status| status_failure("Health/Check after two pings", &status))?;
    match connects.load(Ordering::SeqCst) {
        1 => passed(),
        n => Err(format!(
            "the connection pinged every 5 s did not last: {n} connections were opened (closed by the provider, GOAWAY ENHANCE_YOUR_CALM, or a ping not answered within 5 s)"
        )
        .into()),
    }
});

/// Opens TCP connections to the endpoint's host and port, and counts them (TLS
/// is added on top by tonic).
#[derive(Clone)]
struct CountingConnector(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl tower_service::Service<http::Uri> for CountingConnector {
    type Response = hyper_util::rt::TokioIo<tokio::net::TcpStream>;
    type Error = std::io::Error;
    type Future = BoxFuture<'static, std::io::Result<Self::Response>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let count = std::sync::Arc::clone(&self.0);
        Box::pin(async move {
            let host = uri
                .host()
                .unwrap_or("localhost")
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri.port_u16().unwrap_or(443);
            let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(hyper_util::rt::TokioIo::new(stream))
        })
    }
}

body!(concurrent_calls, |s| {
    match s.target.service {
        super::Service::Store => concurrent_gets(s).await,
        super::Service::Generator => concurrent_generates(s).await,
    }
});

async fn concurrent_gets(s: &mut Session) -> CaseResult {
    if !s.can_read() {
        return skipped(s.lacks(Needs::Read).unwrap_or_else(|| "needs read".into()));
    }
    let Some((key, value)) = s.readable().await? else {
        return skipped("no value to read: give a plain fixture, or run against a READ_WRITE store");
    };
    let request = s.target.store_call().get(&key, "", &s.read_property(&key));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENT_CALLS {
        let mut store = s.client.store.clone();
        let request = request.clone();
        let expected = value.clone();
        tasks.spawn(async move {
            match store.get_secret(request).await {
                Ok(response) if response.get_ref().value == expected => Ok(()),
                Ok(response) => Err((
                    "a different value".to_string(),
                    same_bytes("GetSecret", &response.into_inner().value, &expected)
                        .err()
                        .map(|e| e.message().to_string()),
                )),
                Err(status) => Err((describe_status(&status), Some(status.message().to_string()))),
            }
        });
    }
    collect(s, &format!("GetSecret of {}", crate::display::bounded(&key)), tasks).await
}

async fn concurrent_generates(s: &mut Session) -> CaseResult {
    let request = s.target.generator_call().generate();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENT_CALLS {
        let mut generator = s.client.generator.clone();
        let request = request.clone();
        tasks.spawn(async move {
            match generator.generate(request).await {
                Ok(response) => Ok(response.into_inner()),
                Err(status) => Err(status),
            }
        });
    }
    let mut failures = 0usize;
    let mut first = None;
    let mut responses = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(response)) if !response.secrets.is_empty() => responses.push(response),
            Ok(Ok(_)) => {
                failures += 1;
                first.get_or_insert_with(|| "a Generate answered no key".to_string());
            }
            Ok(Err(status)) => {
                failures += 1;
                s.messages
                    .push(("concurrent Generate".into(), status.message().to_string()));
                first.get_or_insert_with(|| describe_status(&status));
            }
            Err(error) => {
                failures += 1;
                first.get_or_insert_with(|| format!("a call's task ended: {error}"));
            }
        }
    }
    for response in &responses {
        for (key, value) in &response.secrets {
            s.remember(
                format!("the value generated under {}", crate::display::bounded(key)),
                value,
            );
        }
    }
    let mut cleanup_failures = 0usize;
    for response in responses {
        if cleanup(s, "Cleanup after a concurrent Generate", response.state)
            .await
            .is_err()
        {
            cleanup_failures += 1;
        }
    }
    if failures > 0 {
        return Err(format!(
            "{failures} of {CONCURRENT_CALLS} concurrent Generate calls failed; the first: {}",
            first.unwrap_or_default()
        )
        .into());
    }
    if cleanup_failures > 0 {
        return Err(format!("{cleanup_failures} Cleanup calls after the concurrent Generate calls failed").into());
    }
    passed()
}

type CallOutcome = Result<(), (String, Option<String>)>;

/// Waits for every call; fails naming how many went wrong and the first cause.
async fn collect(s: &mut Session, what: &str, mut tasks: tokio::task::JoinSet<CallOutcome>) -> CaseResult {
    let mut failures = 0usize;
    let mut first = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err((cause, message))) => {
                failures += 1;
                if let Some(message) = message {
                    s.messages.push((format!("concurrent {what}"), message.clone()));
                    first.get_or_insert(format!("{cause} ({message})"));
                } else {
                    first.get_or_insert(cause);
                }
            }
            Err(error) => {
                failures += 1;
                first.get_or_insert_with(|| format!("a call's task ended: {error}"));
            }
        }
    }
    if failures > 0 {
        return Err(format!(
            "{failures} of {CONCURRENT_CALLS} concurrent {what} calls went wrong; the first: {}",
            first.unwrap_or_default()
        )
        .into());
    }
    passed()
}

body!(deadline, |s| {
    let started = Instant::now();
    let limit = SHORT_DEADLINE + DEADLINE_GRACE;
    let (what, result) = match s.target.service {
        super::Service::Store => {
            let request = with_deadline(s.target.store_call().validate(), SHORT_DEADLINE);
            let mut store = s.client.store.clone();
            let answer = tokio::time::timeout(limit + DEADLINE_GRACE, store.validate(request)).await;
            ("Validate", answer.map(|r| r.map(|_| None)))
        }
        super::Service::Generator => {
            let request = with_deadline(s.target.generator_call().generate(), SHORT_DEADLINE);
            let mut generator = s.client.generator.clone();
            let answer = tokio::time::timeout(limit + DEADLINE_GRACE, generator.generate(request)).await;
            (
                "Generate",
                answer.map(|r| r.map(|response| Some(response.into_inner().state))),
            )
        }
    };
    let elapsed = started.elapsed();
    let result = match result {
        Err(_) => {
            return Err(format!(
                "{what} with a {SHORT_DEADLINE:?} deadline was still running after {:.1?}",
                elapsed
            )
            .into());
        }
        Ok(result) => result,
    };
    if let Ok(Some(state)) = &result {
        let _ = cleanup(s, "Cleanup after the deadline Generate", state.clone()).await;
    }
    if let Err(status) = &result {
        s.messages
            .push((format!("{what} with a short deadline"), status.message().to_string()));
        if !matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled) {
            return Err(status_failure(&format!("{what} with a {SHORT_DEADLINE:?} deadline"), status).into());
        }
    }
    if elapsed > limit {
        return Err(format!(
            "{what} with a {SHORT_DEADLINE:?} deadline ended after {elapsed:.1?}, more than {DEADLINE_GRACE:?} past it"
        )
        .into());
    }
    passed()
});

// ---------------------------------------------------------------- leaks

body!(no_value_in_messages, |s| {
    // Provoke errors around every key whose value is known.
    if s.target.service == super::Service::Store {
        if s.can_read() {
            if s.can_read_write() {
                s.readable().await?;
            }
            let mut keys: BTreeSet<(String, String, String)> = s
                .readable_pairs()
                .into_iter()
                .map(|(key, _)| (key, String::new(), String::new()))
                .collect();
            for fixture in &s.fixtures.secrets {
                keys.insert((
                    fixture.key.clone(),
                    fixture.version.clone().unwrap_or_default(),
                    fixture.property.clone().unwrap_or_default(),
                ));
            }
            for (key, version, property) in keys.into_iter().take(20) {
                let call = s.target.store_call();
                let shown = crate::display::bounded(&key).to_string();
                let provocations: [(String, Request); 4] = [
                    (
                        format!("GetSecret of {shown} property eso-conformance-no-such-property"),
                        call.get(&key, &version, "eso-conformance-no-such-property").into(),
                    ),
                    (
                        format!("GetSecret of {shown} version eso-conformance-no-such-version"),
                        call.get(&key, "eso-conformance-no-such-version", &property).into(),
                    ),
                    (
                        format!("GetSecretMap of {shown}"),
                        call.get_map(&key, &version, &property).into(),
                    ),
                    (
                        format!("GetSecretMap of {shown} property eso-conformance-no-such-property"),
                        call.get_map(&key, &version, "eso-conformance-no-such-property").into(),
                    ),
                ];
                for (what, request) in provocations {
                    let _ = s.call(&what, request).await;
                }
            }
        }
        if s.can_write() {
            let key = s.key("leak");
            let value = s.value("leak");
            s.remember(format!("the value the suite pushed to {key}"), &value);
            let call = s.target.store_call();
            let mut bad_metadata = call.push(&[], "value", &key, "", "{eso-conformance: not json");
            bad_metadata.secret_data = [("value".to_string(), value.clone())].into_iter().collect();
            let mut missing_secret_key = call.push(&[], "eso-conformance-absent", &key, "", "");
            missing_secret_key.secret_data = [("value".to_string(), value)].into_iter().collect();
            s.pushed.insert(key.clone());
            let _ = s.call("PushSecret with metadata that is not JSON", bad_metadata).await;
            let _ = s
                .call("PushSecret of a secret_key not in secret_data", missing_secret_key)
                .await;
        }
    }
    let needles = s.needles();
    if needles.is_empty() {
        return skipped("no known value of at least 4 bytes to look for (give fixtures, or a READ_WRITE store)");
    }
    let mut failures = Vec::new();
    for (what, message) in &s.messages {
        for (needle, label) in &needles {
            if message.contains(needle.as_str()) {
                failures.push(format!("{what}: the error message holds {label}"));
            }
        }
    }
    failures.dedup();
    all_of(failures)
});
