//! Compiles proto/masar with protox (pure Rust, no system `protoc`) and keeps
//! the descriptor set for gRPC server reflection.

use prost::Message;
use std::{env, fs, path::PathBuf};

const PROTOS: &[&str] = &[
    "masar/events/v1/events.proto",
    "masar/intake/v1/intake.proto",
    "masar/identity/v1/identity.proto",
    "masar/verification/v1/verification.proto",
    "masar/research/v1/research.proto",
    "masar/committee/v1/committee.proto",
    "masar/notification/v1/notification.proto",
    "masar/audit/v1/audit.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fds = protox::compile(PROTOS, ["."])?;
    // `compile_fds` ignores `file_descriptor_set_path`, so write it ourselves.
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("masar_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        // The research file is large beside every other event: boxed, `Event` stays small.
        .boxed(".masar.events.v1.ResearchRecommended.file")
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=masar");
    Ok(())
}
