//! Checks for tests that return [`TestResult`] instead of panicking: `?` works on
//! any error, [`check!`](crate::testing::check) and
//! [`check_eq!`](crate::testing::check_eq) return a failure naming what was checked,
//! [`expect_status`] and [`ok`] explain a call's outcome, and [`text`],
//! [`text_map`] and [`pairs`] turn wire values into text that compares.
//!
//! ```
//! use eso_runtime::testing::{TestResult, check, check_eq, expect_status, pairs, text_map};
//! use tonic::{Code, Status};
//!
//! fn example() -> TestResult {
//!     let refused: Result<(), Status> = Err(Status::not_found("secret db not found"));
//!     let message = expect_status("GetSecret of db", refused, Code::NotFound, &["db"])?;
//!     check!(!message.contains("s3cr3t"), "the message echoes a value: {message}");
//!
//!     let wire = [("user".to_string(), b"app".to_vec())].into_iter().collect();
//!     check_eq!(text_map(wire)?, pairs(&[("user", "app")]), "the map");
//!     Ok(())
//! }
//! example().unwrap();
//! ```

use crate::client::ProviderClient;
use eso_proto::provider::v1 as wire;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Why a test failed: a message. Every error that displays converts into one, so
/// `?` works on tonic statuses, runtime errors, I/O errors, `String` and `&str`
/// alike.
///
/// Its `Debug` is the message as it is (not quoted), so a test that returns it
/// shows multi-line messages, such as a log, readably.
///
/// ```
/// use eso_runtime::testing::{TestError, TestResult};
///
/// fn parse(text: &str) -> TestResult<u16> {
///     Ok(text.parse::<u16>()?)
/// }
/// assert_eq!(parse("8080").ok(), Some(8080));
/// assert_eq!(parse("port").unwrap_err(), TestError::from("invalid digit found in string"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TestError(String);

impl TestError {
    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

// No `Display` (and so no `std::error::Error`): that would make this impl overlap
// with `From<T> for T`.
impl<E: fmt::Display> From<E> for TestError {
    fn from(error: E) -> Self {
        TestError(error.to_string())
    }
}

impl fmt::Debug for TestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a test returns: `Ok`, or why it failed.
pub type TestResult<T = ()> = Result<T, TestError>;

/// `assert!` that returns an error instead of panicking: `check!(condition, "format", args…)`
/// returns `Err` with the formatted message from the enclosing function (or closure)
/// when `condition` is false. The error converts with `From`, so the function may
/// return [`TestResult`], `Result<_, String>` or `Result<_, Box<dyn Error>>`.
///
/// ```
/// use eso_runtime::testing::{TestResult, check};
///
/// fn positive(n: i32) -> TestResult {
///     check!(n > 0, "{n} is not positive");
///     Ok(())
/// }
/// assert!(positive(1).is_ok());
/// assert_eq!(positive(-1).unwrap_err().message(), "-1 is not positive");
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __testing_check {
    ($cond:expr, $($what:tt)+) => {{
        if !$cond {
            return ::core::result::Result::Err(::core::convert::From::from(::std::format!($($what)+)));
        }
    }};
}

/// `assert_eq!` that returns an error instead of panicking:
/// `check_eq!(left, right, "format", args…)` returns `Err` with the formatted message
/// and both values (`Debug`) from the enclosing function when they differ.
///
/// ```
/// use eso_runtime::testing::{TestResult, check_eq};
///
/// fn answer(n: i32) -> TestResult {
///     check_eq!(n, 42, "the answer");
///     Ok(())
/// }
/// assert!(answer(42).is_ok());
/// assert_eq!(answer(41).unwrap_err().message(), "the answer: 41 != 42");
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __testing_check_eq {
    ($left:expr, $right:expr, $($what:tt)+) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return ::core::result::Result::Err(::core::convert::From::from(::std::format!(
                "{}: {:?} != {:?}",
                ::std::format!($($what)+),
                left,
                right
            )));
        }
    }};
}

#[doc(inline)]
pub use crate::__testing_check as check;
#[doc(inline)]
pub use crate::__testing_check_eq as check_eq;

/// The call `what` must have failed with `code` and a message containing every one
/// of `needles`. Returns the message, for the caller to check what only it knows
/// (that it holds no secret value or token, say).
///
/// ```
/// use eso_runtime::testing::expect_status;
/// use tonic::{Code, Status};
///
/// let refused: Result<(), Status> = Err(Status::not_found("secret db not found"));
/// let message = expect_status("GetSecret", refused.clone(), Code::NotFound, &["secret db"]).unwrap();
/// assert_eq!(message, "secret db not found");
///
/// let failure = expect_status("GetSecret", refused, Code::PermissionDenied, &[]).unwrap_err();
/// assert_eq!(failure.message(), "GetSecret: expected PermissionDenied, got NotFound: secret db not found");
/// // An unexpected answer fails without showing it: a reply may carry a secret value.
/// let answered = expect_status("GetSecret", Ok::<_, Status>("s3cr3t"), Code::NotFound, &[]).unwrap_err();
/// assert!(answered.message().starts_with("GetSecret: expected NotFound, got OK"), "{answered:?}");
/// assert!(!answered.message().contains("s3cr3t"));
/// ```
pub fn expect_status<T>(
    what: &str,
    result: Result<T, tonic::Status>,
    code: tonic::Code,
    needles: &[&str],
) -> TestResult<String> {
    match result {
        Ok(_) => Err(format!(
            "{what}: expected {code:?}, got OK (a {} reply, not shown: it may carry a secret value)",
            std::any::type_name::<T>()
        )
        .into()),
        Err(status) if status.code() != code => Err(format!(
            "{what}: expected {code:?}, got {:?}: {}",
            status.code(),
            status.message()
        )
        .into()),
        Err(status) => {
            if let Some(needle) = needles.iter().find(|needle| !status.message().contains(**needle)) {
                return Err(format!("{what}: message {:?} does not contain {needle:?}", status.message()).into());
            }
            Ok(status.message().to_string())
        }
    }
}

/// The response of the call `what`, or a failure naming its status.
///
/// ```
/// use eso_runtime::testing::ok;
/// use tonic::{Response, Status};
///
/// assert_eq!(ok("Generate", Ok::<_, Status>(Response::new(7))).unwrap(), 7);
/// let failure = ok::<()>("Generate", Err(Status::unavailable("sealed"))).unwrap_err();
/// assert_eq!(failure.message(), "Generate: Unavailable: sealed");
/// ```
pub fn ok<T>(what: &str, result: Result<tonic::Response<T>, tonic::Status>) -> TestResult<T> {
    result
        .map(tonic::Response::into_inner)
        .map_err(|status| format!("{what}: {:?}: {}", status.code(), status.message()).into())
}

/// Bytes as text, for comparing values.
///
/// ```
/// assert_eq!(eso_runtime::testing::text(b"world").unwrap(), "world");
/// assert!(eso_runtime::testing::text(&[0xff]).is_err());
/// ```
pub fn text(bytes: &[u8]) -> TestResult<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a value is not UTF-8".into())
}

/// A wire map (`GetSecretMap`, `GetAllSecrets`, `Generate`) as sorted text pairs.
///
/// ```
/// use eso_runtime::testing::{pairs, text_map};
///
/// let wire = [("b".to_string(), b"2".to_vec()), ("a".to_string(), b"1".to_vec())];
/// assert_eq!(text_map(wire.into_iter().collect()).unwrap(), pairs(&[("a", "1"), ("b", "2")]));
/// ```
pub fn text_map(map: HashMap<String, Vec<u8>>) -> TestResult<BTreeMap<String, String>> {
    map.into_iter().map(|(k, v)| Ok((k, text(&v)?))).collect()
}

/// Sorted text pairs from literals, to compare with [`text_map`].
pub fn pairs(items: &[(&str, &str)]) -> BTreeMap<String, String> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// GetSecret: the value as text, or the status (`INTERNAL` if the value is not UTF-8).
///
/// ```
/// use eso_runtime::Gvk;
/// use eso_runtime::client::ProviderClient;
/// use eso_runtime::testing::requests::StoreCall;
/// use eso_runtime::testing::{TestResult, check_eq, get};
///
/// const FAKE: Gvk = Gvk { group: "provider.external-secrets.io", version: "v2alpha1", kind: "Fake" };
///
/// async fn reads_hello(client: &mut ProviderClient) -> TestResult {
///     let value = get(client, StoreCall::new(&FAKE, "default", "backend").get("hello", "", "")).await?;
///     check_eq!(value, "world", "hello");
///     Ok(())
/// }
/// ```
pub async fn get(client: &mut ProviderClient, request: wire::GetSecretRequest) -> Result<String, tonic::Status> {
    let response = client.store.get_secret(request).await?;
    String::from_utf8(response.into_inner().value).map_err(|_| tonic::Status::internal("test: value is not UTF-8"))
}

/// The names of the CRDs in `yaml` (several documents, as
/// [`Manifest::crds_yaml`](crate::manifest::Manifest::crds_yaml) writes them), each
/// parsed back as `apiextensions.k8s.io/v1` and checked structural; or a failure
/// naming the document that does not parse, or the CRD and every rule it breaks.
///
/// ```
/// use eso_runtime::testing::{TestResult, check_eq, structural_crds};
///
/// fn crds_are_structural(provider: eso_runtime::Provider) -> TestResult {
///     let names = structural_crds(&provider.manifest()?.crds_yaml()?)?;
///     check_eq!(names, ["fakes.provider.external-secrets.io"], "the CRDs");
///     Ok(())
/// }
/// assert!(structural_crds("apiVersion: v1\nkind: ConfigMap\n").is_err());
/// ```
pub fn structural_crds(yaml: &str) -> TestResult<Vec<String>> {
    let mut names = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
        let crd: crate::crd::CustomResourceDefinition = serde::Deserialize::deserialize(document)
            .map_err(|e| format!("document {} is not a CustomResourceDefinition: {e}", index + 1))?;
        let name = crd.metadata.name.clone().unwrap_or_default();
        if let Err(violations) = crate::crd::check_structural(&crd) {
            let lines: Vec<String> = violations.iter().map(|v| format!("  {v}")).collect();
            return Err(format!("the CRD {name} is not structural:\n{}", lines.join("\n")).into());
        }
        names.push(name);
    }
    Ok(names)
}

/// The code as the gRPC spec spells it: `NOT_FOUND`, `PERMISSION_DENIED`, … (for
/// reports; `tonic::Code`'s `Debug` says `NotFound`).
///
/// ```
/// assert_eq!(eso_runtime::testing::code_name(tonic::Code::FailedPrecondition), "FAILED_PRECONDITION");
/// ```
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
