#!/usr/bin/env bash
# The deployable artefacts: the SAM template linted offline (zero errors, zero warnings), the
# function binaries run under a local Lambda Runtime API with API Gateway v2 and WebSocket
# events (AWS on a moto server, sockets on its apigatewaymanagementapi), and one
# `cargo lambda build --release` of every function, sizes reported.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/moto.bash
OUT="${LATCHKEY_TEST_OUTPUT:-$PWD/tests/output}"
mkdir -p "$OUT"
FUNCTIONS=(auth-start oauth-callback connections admin callback-redirect worker refresh-scheduler websocket)
pkgs=()
for f in "${FUNCTIONS[@]}"; do pkgs+=(-p "$f"); done

venv_setup
cargo_lambda_setup
export PATH="$PWD/.venv/bin:$PATH"

echo "--- cfn-lint template.yaml"
cfn-lint template.yaml   # exits non-zero on any error or warning
echo "cfn-lint: 0 errors, 0 warnings"

echo "--- function binaries under a local Lambda Runtime API"
cargo build --locked "${pkgs[@]}"
# No SQLite in a Lambda binary: the functions build `latchkey` without its `sqlite` feature.
for f in "${FUNCTIONS[@]}"; do
  n=$(nm "target/debug/$f" | grep -ci 'sqlite3_' || true)
  if (( n > 0 )); then echo "$f links SQLite ($n symbols)"; exit 1; fi
done
echo "no SQLite symbol in any function binary"
# What the functions post to sockets is read back from moto's request recorder.
export MOTO_RECORDER_FILEPATH="$OUT/moto-recording.jsonl"
: >"$MOTO_RECORDER_FILEPATH"
moto_start
LATCHKEY_CALLS_OUT="$OUT/aws-calls.json" python tests/lambda/runtime_test.py target/debug
cat "$OUT/aws-calls.json"; echo
# The cold-start benchmark's smoke run (bench/run cold-start measures, in release): 2 starts each.
python bench/cold_start.py target/debug 2

echo "--- cargo lambda build --release"
if rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then arch=--arm64; else arch=--x86-64; fi
# On CI (2 cores, one budget for every step) the release build skips cross-crate LTO and uses
# parallel codegen units: the same code and optimisation level, built in much less time. The
# sizes in docs/benchmarks.md come from the full release profile of Cargo.toml.
if [ "${CI:-}" = "true" ]; then
  export CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
  echo "CI: release profile with LTO off and 16 codegen units"
fi
start=$(date +%s)
cargo lambda build --release --locked "$arch" "${pkgs[@]}"
secs=$(( $(date +%s) - start ))
{
  echo "cargo lambda build --release $arch (${#FUNCTIONS[@]} functions): ${secs} s"
  for f in "${FUNCTIONS[@]}"; do
    printf '%s %s bytes\n' "$f" "$(stat -c %s "target/lambda/$f/bootstrap")"
  done
} | tee "$OUT/lambda-sizes.txt"
