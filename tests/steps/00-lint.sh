#!/usr/bin/env bash
# Formatting and clippy, warnings as errors: the whole workspace, then each feature set that
# another step builds on its own (a missing `cfg` shows only there), and no SQLite in a function.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

FUNCTIONS=(auth-start oauth-callback connections admin callback-redirect worker refresh-scheduler websocket)
pkgs=()
for f in "${FUNCTIONS[@]}"; do pkgs+=(-p "$f"); done
# The Lambda set: the AWS backend and the Lambda adapter, without the default `sqlite`.
cargo clippy --locked -p latchkey --no-default-features --features aws,lambda -- -D warnings
# The WebSocket function's set.
cargo clippy --locked -p latchkey --no-default-features --features websocket -- -D warnings
# The functions as `cargo lambda build` resolves them, and the CLI (`sqlite` only, no AWS).
cargo clippy --locked "${pkgs[@]}" -- -D warnings
cargo clippy --locked -p latchkey-cli -- -D warnings

linked=$(cargo tree --locked "${pkgs[@]}" -e normal,build --prefix none | grep -E '^(rusqlite|libsqlite3-sys) ' || true)
if [[ -n "$linked" ]]; then
  echo "a Lambda function depends on SQLite:"; echo "$linked"
  exit 1
fi
echo "no Lambda function depends on SQLite"
