#!/usr/bin/env bash
# Unit tests of every crate, and the store conformance suite on SQLite.
set -euo pipefail
cargo test --workspace --locked --lib --bins
