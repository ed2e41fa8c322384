# Sourced by the step scripts that run the e2e suite (20-e2e.sh, 40-aws.sh): a Python venv under
# .venv-oauth1/ with oauthlib (and cryptography and PyJWT, which its RSA-SHA1 check uses), the library the OAuth 1.0a peer
# (`tests/peers/oauth1/server.py`) verifies every signature with. Exports
# LATCHKEY_OAUTH1_PYTHON, the interpreter `tests/tests/e2e/oauth1.rs` starts the peer with.

source "$(dirname "${BASH_SOURCE[0]}")/venvs.bash"

_oauth1_install() {
  if ! .venv-oauth1/bin/python -c 'import oauthlib, cryptography, jwt' 2>/dev/null; then
    python3 -m venv .venv-oauth1
    .venv-oauth1/bin/pip install --quiet --disable-pip-version-check 'oauthlib[signedtoken]>=3.2,<5'
  fi
}

oauth1_venv_setup() {
  with_lock venv-oauth1 _oauth1_install
  export LATCHKEY_OAUTH1_PYTHON="$PWD/.venv-oauth1/bin/python"
}
