//! The text of manifest files (NUL-separated) through the files source's parser.
//! The invariants are in `eso_runtime::fuzzing::manifests`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| eso_runtime::fuzzing::manifests(data));
