#!/usr/bin/env bash
# Provider catalog and the auth modes it enables, over HTTP against the in-process router with
# local provider peers (ports chosen by the OS on 127.0.0.1). The catalog's own data checks
# (every entry round-trips, every URL renders on its host) run with the unit tests (10-unit).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test -p latchkey --test catalog_flows
