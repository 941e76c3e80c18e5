#!/usr/bin/env bash
# Builds the cargo-fuzz targets on the STABLE toolchain and runs each for a fixed time.
#
#   fuzz/run.sh            # every target, 10 s each
#   fuzz/run.sh 300 url    # one target, 5 minutes
#
# Stable works: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags, and `--sanitizer none`
# avoids AddressSanitizer (which needs nightly's sanitizer runtimes; the code is
# `#![forbid(unsafe_code)]`, so panics, hangs and blow-ups are what we are after). New inputs
# go to fuzz/corpus/<target>/ (ignored by git except `seed-*` and `crash-*` files); a crash
# stops the script and leaves the input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
shift || true
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
  cargo fuzz build --sanitizer none
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for target in "${targets[@]}"; do
  echo "== fuzz $target (${seconds}s)"
  status=0
  cargo fuzz run --sanitizer none "$target" -- -max_total_time="$seconds" -max_len=8192 \
    -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '(INITED|DONE) |stat::(number_of_executed_units|average_exec_per_sec)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "fuzz target $target failed (exit $status); the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
