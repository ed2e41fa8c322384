#!/usr/bin/env bash
# The frontend SDK in headless Chromium against the real local stack (`latchkey serve`) and
# oidc-provider: popup flow, severed opener (polling), API key (+ CORS preflight), HMAC,
# allowed origins, connect sessions, closed popup, denied consent, demo page; the OAuth flow's
# browser binding (login CSRF refused, a custom callback domain's 308); then the operator
# console (console.browser.test.mjs): every tab end to end, session and CSRF refusals, axe-core on
# every page, page weights; then the published `@nangohq/frontend` (pinned in
# tests/browser/package-lock.json): auth() through its WebSocket and popup, API key, denied
# consent, and openConnectUI() on the Connect page. Screenshots go to $LATCHKEY_TEST_OUTPUT/browser,
# $LATCHKEY_TEST_OUTPUT/console and $LATCHKEY_TEST_OUTPUT/connect.
set -euo pipefail
root="$PWD"
source tests/lib/apt.bash
need_command chromium chromium
(cd sdk/frontend && npm ci --no-audit --no-fund && npx tsc -p tsconfig.json)
(cd tests/peers/oidc && npm ci --no-audit --no-fund)
(cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
cargo build -p latchkey-cli --locked
export LATCHKEY_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/latchkey"
cd tests/browser
node --test --test-concurrency=1 sdk.browser.test.mjs binding.browser.test.mjs console.browser.test.mjs nango-frontend.browser.test.mjs
