#!/usr/bin/env bash
# The AWS backend on a moto server: the store conformance suite on DynamoDB, the KMS sealer,
# Secrets Manager, and the e2e suite again with LATCHKEY_TEST_BACKEND=aws.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/moto.bash
source tests/lib/apt.bash
source tests/lib/oauth1.bash
need_command openssl openssl  # the two-step peer's certificates (the e2e suite below)
venv_setup
oauth1_venv_setup  # oauthlib, for the OAuth 1.0a peer of the e2e suite below
moto_start
cargo test --locked -p latchkey --features aws,test-support --test aws_moto

# The end-to-end suite a second time, on the AWS backend (same test code, other configuration).
(cd tests/peers/oidc && npm ci --no-audit --no-fund --loglevel=error)
cargo build -p latchkey-cli --locked
export LATCHKEY_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/latchkey"
LATCHKEY_TEST_BACKEND=aws cargo test -p latchkey-tests --locked
