//! A wire request (first byte: the RPC) through the real gRPC handler, dispatch, scope and source.
//! The invariants are in `eso_runtime::fuzzing::dispatch`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| eso_runtime::fuzzing::dispatch(data));
