//! gRPC status codes by name, as `eso-gen call` reports them.

use tonic::Code;

/// The code's name, e.g. `NotFound`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "Ok",
        Code::Cancelled => "Cancelled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// `NotFound (5)`.
pub fn describe(code: Code) -> String {
    format!("{} ({})", code_name(code), code as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(describe(Code::NotFound), "NotFound (5)");
        assert_eq!(describe(Code::Unauthenticated), "Unauthenticated (16)");
        assert_eq!(describe(Code::FailedPrecondition), "FailedPrecondition (9)");
    }
}
