#!/usr/bin/env bash
# Runs every decoder fuzz target for SECONDS each (default 60).
# Needs the nightly toolchain (rustup has it here) and cargo-fuzz:
#   cargo install cargo-fuzz
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
for target in $(cargo +nightly fuzz list); do
  corpus="corpus/$target"
  mkdir -p "$corpus"
  # Seed each corpus with the spec samples so the fuzzer starts from real messages.
  cp ../conformance-tests/samples/*/* "$corpus"/ 2>/dev/null || true
  echo "== $target ($seconds s)"
  cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -max_len=65536
done
