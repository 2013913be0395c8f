//! Tells `eso-gen new` where eso-runtime comes from by default.
//!
//! Built inside an eso-gen checkout (`../runtime/` is the eso-runtime crate next to this
//! one), `ESO_GEN_CHECKOUT_RUNTIME` is that folder and new projects depend on it by path, as
//! the checkout's tests need. Built from a registry (`cargo install eso-codegen`), it is empty
//! and new projects depend on the eso-runtime release of this eso-gen's version.

use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let runtime = Path::new(&manifest_dir).join("..").join("runtime");
    let is_runtime = std::fs::read_to_string(runtime.join("Cargo.toml"))
        .is_ok_and(|manifest| manifest.lines().any(|line| line.trim() == "name = \"eso-runtime\""));
    let value = if is_runtime {
        println!("cargo::rerun-if-changed=../runtime/Cargo.toml");
        runtime.to_string_lossy().into_owned()
    } else {
        String::new()
    };
    println!("cargo::rustc-env=ESO_GEN_CHECKOUT_RUNTIME={value}");
}
