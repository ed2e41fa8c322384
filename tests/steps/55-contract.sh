#!/usr/bin/env bash
# The API against its own OpenAPI description: schemathesis (pinned, in its own venv) fuzzes
# every operation of `GET /openapi.json` on a real `latchkey serve` (tests/contract/run.sh:
# temp data dir, seeded integration and connection, stateful links), and every answer must be
# no 5xx, a documented status and content type, and a body and headers that match the
# description (tests/contract/schemathesis.toml). The run is in a network namespace with only
# loopback (where `unshare -n` works: root, as CI): webhook URLs and provider hosts that the
# fuzzer makes up are never reached. Reports go to $LATCHKEY_TEST_OUTPUT/contract.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/venvs.bash
schemathesis_venv_setup
VENV=.venv-schemathesis
cargo build -p latchkey-cli --locked
export LATCHKEY_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/latchkey" SCHEMATHESIS="$VENV/bin/schemathesis"

if unshare -n true 2>/dev/null; then
  unshare -n sh -c 'ip link set lo up 2>/dev/null || true; exec bash tests/contract/run.sh'
else
  echo "unshare -n is not available here: the run shares the machine's network"
  bash tests/contract/run.sh
fi
