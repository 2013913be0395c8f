//! Writes every target's seed inputs (`eso_runtime::fuzzing::seeds`) into
//! `corpus/<target>/seed-*`. The seeds are committed; run this again when the
//! wire or the harness changes:
//! `cargo +nightly fuzz build --fuzz-dir runtime/fuzz --sanitizer none --features write-seeds write_seeds`,
//! then run `runtime/fuzz/target/x86_64-unknown-linux-gnu/release/write_seeds`.

use std::path::Path;

// Linked like the targets: the instrumented crates need libFuzzer's hooks. Never called.
libfuzzer_sys::fuzz_target!(|_data: &[u8]| {});

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for seed in eso_runtime::fuzzing::seeds()? {
        let dir = corpus.join(seed.target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(&seed.name), &seed.bytes)?;
        println!("{}/{}", seed.target, seed.name);
    }
    Ok(())
}
