//! Compiles the `.proto` files with `protox` (pure Rust, no `protoc` needed) and
//! generates the tonic services, plus a file descriptor set for gRPC reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/provider/v1/provider.proto", "proto/generator/v1/generator.proto"];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(protos, ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("eso_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // No `connect` constructors: they need tonic's transport, which a provider does not
        // link; eso-runtime's client builds its channel itself.
        .build_transport(false)
        .compile_fds(descriptors)?;
    Ok(())
}
