# Started in the background by tests/run for a whole run: installs the pip venvs the later
# steps need (moto and cfn-lint, cargo-lambda and zig, oauthlib, checkov, schemathesis), about
# three minutes of downloads, while the first steps compile. Each installer holds its venv's
# lock (tests/lib/venvs.bash), so a step that needs a venv waits for it; a failure here only
# means that step installs it itself.
cd "$(dirname "$0")/../.."
source tests/lib/moto.bash
source tests/lib/oauth1.bash
for setup in venv_setup cargo_lambda_setup oauth1_venv_setup checkov_venv_setup schemathesis_venv_setup; do
  start=$(date +%s)
  if "$setup"; then
    echo "prefetch: $setup in $(( $(date +%s) - start )) s"
  else
    echo "prefetch: $setup failed (the step that needs it installs it)"
  fi
done
