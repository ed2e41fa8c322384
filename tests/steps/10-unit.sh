#!/usr/bin/env bash
# Unit tests of every crate, and the store conformance suite on SQLite.
set -euo pipefail
# The bins hold no tests but callback-redirect's, and the tests crate's one unit test runs with
# its suite (20-e2e): left out here, no test harness links against a non-test build of the
# whole stack that no later step reuses (about two minutes of CI).
cargo test --workspace --exclude latchkey-tests --locked --lib --bin callback-redirect
