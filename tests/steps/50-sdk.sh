#!/usr/bin/env bash
# Frontend SDK (sdk/frontend): clean install from the lockfile, type-check and build with tsc,
# unit tests (node's test runner), the 5 KB gzip budget, and the copy the server embeds for
# /demo (shared/assets/demo/latchkey.js) must match the fresh build.
set -euo pipefail
cd sdk/frontend
npm ci --no-audit --no-fund
npx tsc -p tsconfig.json
node scripts/vendor.mjs --check
npm test
npm run size
