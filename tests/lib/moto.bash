# Sourced by step scripts: a Python venv under .venv/ with moto and cfn-lint, and a moto server
# on a random loopback port (stopped on exit). Exports AWS_ENDPOINT_URL and dummy credentials.
# The server (`moto_server.py`) applies one DynamoDB request at a time, as DynamoDB applies the
# writes of an item: moto's own threaded server lets concurrent conditional writes both pass.

source "$(dirname "${BASH_SOURCE[0]}")/venvs.bash"

_moto_install() {
  if [ ! -x .venv/bin/moto_server ] || [ ! -x .venv/bin/cfn-lint ]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]' cfn-lint
  fi
}

_cargo_lambda_install() {
  _moto_install
  if [ ! -x .venv/bin/cargo-lambda ] || ! .venv/bin/python -c "import ziglang" 2>/dev/null; then
    .venv/bin/pip install --quiet --disable-pip-version-check cargo-lambda ziglang
  fi
}
# cargo-lambda and zig (45-lambda's release build), in the same venv.
cargo_lambda_setup() { with_lock venv _cargo_lambda_install; }

venv_setup() {
  with_lock venv _moto_install
  # The AWS_SIGV4 e2e tests' STS peer (tests/peers/aws/sts.py) runs moto with this Python.
  export LATCHKEY_MOTO_PYTHON="$PWD/.venv/bin/python"
}

moto_start() {
  local port
  port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  MOTO_LOG=$(mktemp)
  # moto with DynamoDB requests serialized, so conditional writes are atomic as on AWS.
  .venv/bin/python tests/lib/moto_server.py -H 127.0.0.1 -p "$port" >"$MOTO_LOG" 2>&1 &
  MOTO_PID=$!
  trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then break; fi
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null || { cat "$MOTO_LOG"; echo "moto did not start"; exit 1; }
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  unset AWS_PROFILE AWS_SESSION_TOKEN
  echo "moto server on $AWS_ENDPOINT_URL (pid $MOTO_PID)"
}
