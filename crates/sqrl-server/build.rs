//! Says whether the public vectors beside the repository are here, for the tests that replay
//! them (see `build/prereqs.rs`).
include!("../../build/prereqs.rs");

fn main() {
    shared_vectors();
}
