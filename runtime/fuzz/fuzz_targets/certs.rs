//! ca.crt, tls.crt and tls.key (NUL-separated) through parsing, the self-check and the server config.
//! The invariants are in `eso_runtime::fuzzing::certs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| eso_runtime::fuzzing::certs(data));
