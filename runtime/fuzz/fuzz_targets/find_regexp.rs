//! GetAllSecrets' find: regexp, path and keys (NUL-separated) compiled and matched.
//! The invariants are in `eso_runtime::fuzzing::find_regexp`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| eso_runtime::fuzzing::find_regexp(data));
