#!/usr/bin/env bash
# template.yaml through checkov, the IaC scanner security teams run before a stack goes near
# production (pinned, in its own venv, offline): no failed check, and every skipped check has
# an inline reason and a row in docs/security.md ("Template scanner"). Needs no Rust build.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${LATCHKEY_TEST_OUTPUT:-$PWD/tests/output}"
mkdir -p "$OUT"
source tests/lib/venvs.bash
checkov_venv_setup
VENV=.venv-checkov

# --skip-download: no call to the vendor's platform (guidelines, severities); checkov then runs
# only its built-in checks, offline. Exit code 1 = findings; the gate below judges them.
rc=0
"$VENV/bin/checkov" --file template.yaml --framework cloudformation --skip-download --output json \
  >"$OUT/checkov.json" || rc=$?
if (( rc > 1 )); then
  echo "checkov failed to run (exit $rc)"; cat "$OUT/checkov.json"; exit 1
fi
"$VENV/bin/python" tests/lib/checkov_gate.py "$OUT/checkov.json" docs/security.md
