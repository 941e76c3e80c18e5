//! The generator runs and offers `generate` (and, being an integration test, makes
//! `cargo test --workspace` build the binary that sqrl-ffi's binding tests call).
#![allow(clippy::unwrap_used)]

#[test]
fn the_generator_offers_generate() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_uniffi-bindgen"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("generate"));
}
