#!/usr/bin/env bash
# The provider catalog's benchmark, compiled in the test profile and run once so it cannot rot
# (`cargo bench -p latchkey --bench catalog` measures; see docs/benchmarks.md).
# The catalog's other tests run where their harness is: its data checks (every entry
# round-trips, every URL renders on its host) with the unit tests (10-unit); its routes and the
# auth modes it enables, over HTTP against `spawn_app` with local provider peers
# (`tests/tests/e2e/catalog_flows.rs`), with the end-to-end suite (20-e2e, and on DynamoDB in 40-aws).
# The count of entries that connect (their mode has a module, every template renders) is printed
# here from its unit test (`auth/catalog_coverage_tests.rs`), which also runs in 10-unit.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test --locked -p latchkey --bench catalog
# `--workspace`, as 10-unit builds it: the same features, so its test binary is reused, not rebuilt.
cargo test --workspace --exclude latchkey-tests --locked --lib catalog_coverage_tests -- --nocapture 2>&1 \
  | grep -E "catalog entries that connect|modes without a module|test result: .* [1-9][0-9]* passed"
