#!/usr/bin/env bash
# End-to-end tests: the local stack in-process against real peers (oidc-provider from npm as
# the OAuth server), the real `latchkey` binary, and a smoke run of the benchmark.
# Needs Node 20+ and npm (installs the OAuth peer from its lock file), and python3 with the
# openssl command (the two-step peer, standard library only; installed from Debian if missing),
# and a venv with PyPI oauthlib for the OAuth 1.0a peer (`tests/lib/oauth1.bash`).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/apt.bash
source tests/lib/oauth1.bash
source tests/lib/moto.bash
need_command openssl openssl
oauth1_venv_setup
venv_setup  # moto, for the AWS_SIGV4 tests' STS peer

(cd tests/peers/oidc && npm ci --no-audit --no-fund --loglevel=error)

cargo build -p latchkey-cli --locked
export LATCHKEY_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/latchkey"
export LATCHKEY_TEST_BACKEND="${LATCHKEY_TEST_BACKEND:-sqlite}"
cargo test -p latchkey-tests --locked
# The benchmark, compiled in the test profile and run as a short smoke run so it cannot rot
# (`cargo bench` measures; see docs/benchmarks.md).
cargo test -p latchkey-tests --locked --benches
# The soak benchmark's smoke run (bench/run soak measures): 8 s of its mixed traffic with the
# misbehaving provider against the debug binary, failing on any answer that is not expected.
soak=$(python3 bench/load.py soak "$LATCHKEY_BIN" 8) || { echo "$soak"; exit 1; }
echo "soak smoke: every answer expected"
