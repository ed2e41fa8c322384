# Sourced by step scripts: the pinned Python venvs a step needs, each installed once. An
# installer holds its venv's lock (`.locks/<venv>`, flock) while it checks and installs, so
# `tests/lib/prefetch.bash` can install them in the background while the first steps compile:
# a step that needs one waits for the lock, then finds it installed (or installs it itself).

# `with_lock NAME CMD…`: CMD while holding the lock NAME.
with_lock() {
  local name=$1 fd
  shift
  mkdir -p .locks
  exec {fd}>".locks/$name"
  flock "$fd"
  "$@"
  exec {fd}>&-
}

CHECKOV_VERSION=3.3.30
SCHEMATHESIS_VERSION=4.32.5

_checkov_install() {
  if [ "$(.venv-checkov/bin/checkov --version 2>/dev/null)" != "$CHECKOV_VERSION" ]; then
    python3 -m venv --clear .venv-checkov
    .venv-checkov/bin/pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  fi
}
# checkov (47-template-scan), in .venv-checkov.
checkov_venv_setup() { with_lock venv-checkov _checkov_install; }

_schemathesis_install() {
  if [ "$(.venv-schemathesis/bin/schemathesis --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
    python3 -m venv --clear .venv-schemathesis
    .venv-schemathesis/bin/pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
}
# schemathesis (55-contract), in .venv-schemathesis.
schemathesis_venv_setup() { with_lock venv-schemathesis _schemathesis_install; }
