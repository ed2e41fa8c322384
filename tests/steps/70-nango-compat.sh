#!/usr/bin/env bash
# Wire compatibility with the published Nango Node client: @nangohq/node 0.71.x (pinned in
# tests/compat/package-lock.json) against the real `latchkey serve` binary, with node's test
# runner; the webhooks it sends are checked by the client's verifyIncomingWebhookRequest.
# Calls whose route Latchkey does not serve yet are `todo` tests (docs/compat.md).
# Needs Node 20+ and npm.
set -euo pipefail
cd "$(dirname "$0")/../.."
(cd tests/compat && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
cargo build -p latchkey-cli --locked
export LATCHKEY_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/latchkey"
cd tests/compat
node --test --test-concurrency=1 nango-node.test.mjs webhooks.test.mjs
