//! `uniffi-bindgen`, the version that matches the workspace's `uniffi`: generates the foreign
//! bindings of `sqrl-ffi` from the built library (README, "Build a phone app"):
//!
//! ```text
//! cargo build -p sqrl-ffi --release
//! cargo run -p uniffi-bindgen -- generate --library target/release/libsqrl_ffi.so \
//!     --language kotlin --language swift --language python --out-dir bindings
//! ```

fn main() {
    uniffi::uniffi_bindgen_main()
}
