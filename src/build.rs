//! Build script: tells the tests what this machine can run, so a test that
//! needs `node` or the shared GP Connect specs beside the checkout is marked
//! `#[ignore]` with its reason when they are absent, instead of passing
//! without testing anything.
//!
//! - `cfg(has_node)`: `node --version` runs.
//! - `cfg(has_shared_specs)`: `../shared/specs/` holds the published DSTU2
//!   and 1.5.0 appointments definitions.
//!
//! It also makes any change to the default pack rebuild the crate, which
//! embeds it.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_node)");
    println!("cargo::rustc-check-cfg=cfg(has_shared_specs)");
    println!("cargo::rerun-if-changed=src/build.rs");
    println!("cargo::rerun-if-env-changed=PATH");
    // The default pack is built into the binary (`include_dir!`, which
    // cannot tell cargo what it read): any change under these directories
    // rebuilds the crate.
    println!("cargo::rerun-if-changed=scenarios");
    println!("cargo::rerun-if-changed=templates");

    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if node {
        println!("cargo::rustc-cfg=has_node");
    }

    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_string());
    let specs = Path::new(&manifest).join("../shared/specs");
    println!("cargo::rerun-if-changed={}", specs.display());
    let present = [
        "gpconnect-swagger.json",
        "gpconnect-1.5.0-appointments.yaml",
    ]
    .iter()
    .all(|name| specs.join(name).is_file());
    if present {
        println!("cargo::rustc-cfg=has_shared_specs");
    }
}
