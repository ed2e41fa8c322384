#!/usr/bin/env bash
# The contract run of tests/steps/55-contract.sh (which installs schemathesis, builds
# `latchkey`, and starts this in a loopback-only network namespace): `latchkey serve` on a free
# port with a temp data dir, an API-key integration of a catalog provider that needs no
# verification request and one connection of it, a console session, then schemathesis over
# `/openapi.json`. `PATCH /environment` runs last, alone and without the stateful phase: a key
# rotation with no grace period ends the secret key that the rest of the run uses.
set -euo pipefail
OUT="${LATCHKEY_TEST_OUTPUT:-$PWD/tests/output}/contract"
rm -rf "$OUT" && mkdir -p "$OUT"
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
host="http://127.0.0.1:$port"
RUST_LOG=warn "$LATCHKEY_BIN" serve --listen "127.0.0.1:$port" --data-dir "$data/env" >"$OUT/serve.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 200); do
  curl -fsS "$host/openapi.json" -o "$OUT/openapi.json" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$OUT/serve.log"; echo "latchkey serve exited"; exit 1; }
  sleep 0.1
done
cmp "$OUT/openapi.json" docs/openapi.json || { echo "the served /openapi.json is not docs/openapi.json"; exit 1; }

key() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$data/env/environment-keys.json" "$1"; }
LATCHKEY_SECRET_KEY=$(key secret_key)
LATCHKEY_PUBLIC_KEY=$(key public_key)
export LATCHKEY_SECRET_KEY LATCHKEY_PUBLIC_KEY

api() {
  curl -fsS -X "$1" "$host$2" -H "Authorization: Bearer $LATCHKEY_SECRET_KEY" \
    -H 'Content-Type: application/json' --data "$3" >/dev/null
}
api POST /integrations '{"provider": "exa", "unique_key": "exa"}'
api POST /connections '{"provider_config_key": "exa", "connection_id": "seed-1", "credentials": {"type": "API_KEY", "apiKey": "seed-key"}}'

# A console session for the console's pages (sign-in takes the console's own origin).
LATCHKEY_CONSOLE_SESSION=$(curl -fsS -o /dev/null -D - -X POST "$host/console/sign-in" -H "Origin: $host" \
  --data-urlencode "secret_key=$LATCHKEY_SECRET_KEY" | sed -n 's/^set-cookie: latchkey_console=\([^;]*\);.*/\1/ip')
[ -n "$LATCHKEY_CONSOLE_SESSION" ] || { echo "console sign-in failed"; exit 1; }
export LATCHKEY_CONSOLE_SESSION

run() {
  local name=$1
  shift
  "$SCHEMATHESIS" --config-file tests/contract/schemathesis.toml run "$host/openapi.json" \
    --max-examples "${LATCHKEY_CONTRACT_EXAMPLES:-50}" --no-color \
    --report junit,ndjson --report-dir "$OUT/$name" "$@" 2>&1 | tee "$OUT/$name.txt"
}
run all --exclude-operation-id updateEnvironment
run environment --include-operation-id updateEnvironment --phases coverage,fuzzing
if grep -n 'panicked' "$OUT/serve.log"; then
  echo "latchkey serve panicked during the run"; exit 1
fi
