//! Says which of the bindings' test prerequisites are here (see `build/prereqs.rs`): the
//! public vectors, CPython, and for Kotlin on the JVM the compiler (npm `kotlin-compiler`),
//! a `java` and JNA (Debian `libjna-java`). Their paths reach the tests as `SQRL_PYTHON`,
//! `SQRL_KOTLINC`, `SQRL_JAVA` and `SQRL_JNA`.
include!("../../build/prereqs.rs");

use std::path::{Path, PathBuf};

/// The first of `candidates` that exists: each a path, or a name looked up in `PATH`.
fn find(candidates: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for candidate in candidates {
        let found = if candidate.contains('/') {
            Some(PathBuf::from(candidate)).filter(|p| p.is_file())
        } else {
            std::env::split_paths(&path)
                .map(|dir| dir.join(candidate))
                .find(|p| p.is_file())
        };
        match found {
            Some(found) => {
                println!("cargo::rerun-if-changed={}", found.display());
                return Some(found);
            }
            // A missing path makes cargo rerun this script at every build, which notices an
            // install.
            None if candidate.contains('/') => println!("cargo::rerun-if-changed={candidate}"),
            None => {}
        }
    }
    None
}

fn export(name: &str, path: Option<&Path>) {
    if let Some(path) = path {
        println!("cargo::rustc-env={name}={}", path.display());
    }
}

fn main() {
    shared_vectors();
    println!("cargo::rerun-if-env-changed=PATH");
    let python = find(&["python3"]);
    prerequisite("sqrl_python", python.is_some(), "python3 (CPython)");
    export("SQRL_PYTHON", python.as_deref());
    let kotlinc = find(&[
        "/usr/lib/node_modules/kotlin-compiler/bin/kotlinc",
        "/usr/local/lib/node_modules/kotlin-compiler/bin/kotlinc",
        "kotlinc",
    ]);
    let java = find(&["java"]);
    let jna = find(&["/usr/share/java/jna.jar"]);
    prerequisite(
        "sqrl_kotlin",
        kotlinc.is_some() && java.is_some() && jna.is_some(),
        "kotlinc (npm kotlin-compiler), java and /usr/share/java/jna.jar (Debian libjna-java)",
    );
    export("SQRL_KOTLINC", kotlinc.as_deref());
    export("SQRL_JAVA", java.as_deref());
    export("SQRL_JNA", jna.as_deref());
}
