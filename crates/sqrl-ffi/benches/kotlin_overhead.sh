#!/usr/bin/env bash
# The FFI overhead of a login, Kotlin bindings against Rust, in one JVM run (BENCHMARKS.md).
# Needs what the Kotlin binding test needs: java, the npm kotlin-compiler, Debian libjna-java.
set -euo pipefail
cd "$(dirname "$0")/../../.."
target="${CARGO_TARGET_DIR:-target}"
out="$(mktemp -d)"
cargo build -q -p sqrl-ffi --release --features vectors
cargo run -q -p uniffi-bindgen -- generate --no-format --language kotlin \
  --library "$target/release/libsqrl_ffi.so" --out-dir "$out"
cp "$target/release/libsqrl_ffi.so" "$out/"
"$(npm root -g)/kotlin-compiler/bin/kotlinc" -nowarn -include-runtime -classpath /usr/share/java/jna.jar \
  "$out/uniffi/sqrl_ffi/sqrl_ffi.kt" crates/sqrl-ffi/benches/kotlin/Bench.kt -d "$out/bench.jar" 2>/dev/null
java -Djna.library.path="$out" -classpath "$out/bench.jar:/usr/share/java/jna.jar" BenchKt "$@"
rm -rf "$out"
