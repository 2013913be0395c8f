//! One error type for everything a provider can fail with, and the one place where
//! errors become gRPC status codes.
//!
//! ESO core reads exactly one status code: `NOT_FOUND` means "this secret does not
//! exist in the backend" and may make it delete the target Secret. So
//! [`Error::secret_not_found`] is the only constructor that maps to `NOT_FOUND`; a
//! missing provider object, an unknown kind or a bad configuration never does.
//!
//! Messages name the object and the cause. They must never contain a secret value:
//! constructors take descriptions, not data. Every message is kept escaped (no
//! control character survives, so it cannot forge a log line) and at most 2,048
//! characters long, whoever built it; echo request fields through
//! [`bounded`](crate::display::bounded) so the cause stays readable.

use std::fmt;
use tonic::{Code, Status};

/// What went wrong, by meaning. Each kind maps to exactly one gRPC code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The remote secret (or the requested version or property) does not exist. `NOT_FOUND`.
    SecretNotFound,
    /// The request itself is malformed: empty key, bad regexp, missing field. `INVALID_ARGUMENT`.
    InvalidRequest,
    /// The provider object is missing or its configuration is wrong. `FAILED_PRECONDITION`.
    InvalidConfig,
    /// A namespace boundary or the backend refused access. `PERMISSION_DENIED`.
    PermissionDenied,
    /// The backend could not authenticate us. `UNAUTHENTICATED`.
    Unauthenticated,
    /// The backend is down, sealed or unreachable; retrying may help. `UNAVAILABLE`.
    Unavailable,
    /// The provider does not implement this method or kind. `UNIMPLEMENTED`.
    Unimplemented,
    /// The caller's deadline passed. `DEADLINE_EXCEEDED`.
    DeadlineExceeded,
    /// The object already exists and must not be overwritten. `ALREADY_EXISTS`.
    AlreadyExists,
    /// A bug or an unexpected state in the provider. `INTERNAL`.
    Internal,
}

impl ErrorKind {
    /// The gRPC code this kind is sent as.
    pub fn code(self) -> Code {
        match self {
            ErrorKind::SecretNotFound => Code::NotFound,
            ErrorKind::InvalidRequest => Code::InvalidArgument,
            ErrorKind::InvalidConfig => Code::FailedPrecondition,
            ErrorKind::PermissionDenied => Code::PermissionDenied,
            ErrorKind::Unauthenticated => Code::Unauthenticated,
            ErrorKind::Unavailable => Code::Unavailable,
            ErrorKind::Unimplemented => Code::Unimplemented,
            ErrorKind::DeadlineExceeded => Code::DeadlineExceeded,
            ErrorKind::AlreadyExists => Code::AlreadyExists,
            ErrorKind::Internal => Code::Internal,
        }
    }
}

/// The error every provider method returns.
///
/// ```
/// use eso_runtime::{Error, ErrorKind};
///
/// let error = Error::secret_not_found("db/password");
/// assert_eq!(error.kind(), ErrorKind::SecretNotFound);
/// assert_eq!(error.to_string(), "secret db/password not found");
/// let status: tonic::Status = error.into();
/// assert_eq!(status.code(), tonic::Code::NotFound);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// An error of `kind` with a message. Prefer the named constructors.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: crate::display::sanitize_message(message.into()),
        }
    }

    /// The remote secret `key` does not exist in the backend (`NOT_FOUND`).
    /// The key is echoed through [`bounded`](crate::display::bounded).
    pub fn secret_not_found(key: impl fmt::Display) -> Self {
        let key = key.to_string();
        Error::new(
            ErrorKind::SecretNotFound,
            format!("secret {} not found", crate::display::bounded(&key)),
        )
    }

    /// The request is malformed (`INVALID_ARGUMENT`).
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidRequest, message)
    }

    /// The provider's configuration is wrong or incomplete (`FAILED_PRECONDITION`).
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidConfig, message)
    }

    /// Access was refused, by a namespace boundary or by the backend (`PERMISSION_DENIED`).
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::PermissionDenied, message)
    }

    /// The backend rejected our credentials (`UNAUTHENTICATED`).
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unauthenticated, message)
    }

    /// The backend cannot be reached or cannot serve now (`UNAVAILABLE`).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unavailable, message)
    }

    /// The provider does not implement `method` (`UNIMPLEMENTED`).
    pub fn unimplemented(method: &str) -> Self {
        Error::new(
            ErrorKind::Unimplemented,
            format!("this provider does not implement {method}"),
        )
    }

    /// Something that should not happen (`INTERNAL`).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    /// What went wrong, by meaning.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefixes the message with the object or operation it concerns:
    /// `Error::secret_not_found("a").context("Fake default/x")` reads
    /// `Fake default/x: secret a not found`.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = crate::display::sanitize_message(format!("{context}: {}", self.message));
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        Status::new(error.kind.code(), error.message)
    }
}

/// `Result<T, eso_runtime::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Removes values from a (de)serialization error message, so that a value from a
/// spec or a request never reaches a log line or an error. serde writes found
/// values as `string "…"`, `integer \`…\``, `floating point \`…\``, `boolean \`…\``,
/// `character \`…\`` and `unknown variant \`…\``; field names (`missing field
/// \`key\``) and the expectation stay.
pub fn without_quoted_values(message: &str) -> String {
    const VALUE_PREFIXES: [&str; 6] = [
        "integer ",
        "floating point ",
        "boolean ",
        "character ",
        "unknown variant ",
        "byte array ",
    ];
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            // A double-quoted value: drop up to the closing quote.
            out.push_str("\"…\"");
            rest = match rest[1..].find('"') {
                Some(end) => &rest[end + 2..],
                None => "",
            };
            continue;
        }
        if c == '`' && VALUE_PREFIXES.iter().any(|p| out.ends_with(p)) {
            out.push_str("`…`");
            rest = match rest[1..].find('`') {
                Some(end) => &rest[end + 2..],
                None => "",
            };
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_secret_not_found_maps_to_not_found() {
        let all = [
            Error::secret_not_found("k"),
            Error::invalid_request("r"),
            Error::invalid_config("c"),
            Error::permission_denied("p"),
            Error::unauthenticated("u"),
            Error::unavailable("a"),
            Error::unimplemented("GetSecret"),
            Error::internal("i"),
        ];
        let not_found: Vec<_> = all
            .iter()
            .filter(|e| Status::from((*e).clone()).code() == Code::NotFound)
            .collect();
        assert_eq!(not_found, vec![&Error::secret_not_found("k")]);
    }

    #[test]
    fn context_prefixes_the_message() {
        let error = Error::invalid_config("spec.data[0].key is empty").context("Fake default/x");
        assert_eq!(error.message(), "Fake default/x: spec.data[0].key is empty");
        assert_eq!(error.kind(), ErrorKind::InvalidConfig);
    }

    #[test]
    fn quoted_values_are_removed() {
        assert_eq!(
            without_quoted_values("invalid type: string \"hunter2\", expected u32"),
            "invalid type: string \"…\", expected u32"
        );
        assert_eq!(
            without_quoted_values("invalid type: integer `987654321`, expected a string"),
            "invalid type: integer `…`, expected a string"
        );
        assert_eq!(
            without_quoted_values("unknown variant `s3cr3t`, expected one of `a`, `b`"),
            "unknown variant `…`, expected one of `a`, `b`"
        );
        assert_eq!(without_quoted_values("missing field `key`"), "missing field `key`");
        assert_eq!(
            without_quoted_values("invalid value: boolean `true`"),
            "invalid value: boolean `…`"
        );
        assert_eq!(without_quoted_values("unterminated \"abc"), "unterminated \"…\"");
    }
}
