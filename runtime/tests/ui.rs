//! Compile errors of the macros, as a newcomer sees them (trybuild). Regenerate the
//! expected output after a deliberate change with `TRYBUILD=overwrite cargo test -p
//! eso-runtime --test ui`, then read the diff.

#[test]
fn macro_errors_explain_themselves() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
