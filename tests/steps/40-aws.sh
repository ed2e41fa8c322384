#!/usr/bin/env bash
# The AWS backend on a moto server: the store conformance suite on DynamoDB, the KMS sealer,
# Secrets Manager, and the e2e harness with LATCHKEY_TEST_BACKEND=aws when it exists.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/moto.bash
venv_setup
moto_start
cargo test --locked -p latchkey --features aws,test-support --test aws_moto
