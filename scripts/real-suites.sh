#!/usr/bin/env bash
# Parity on real open-source test suites under pytest 9: plain pytest vs
# kiln test, {nodeid: outcome}, exit code and failure text (npm run parity).
# The suites are the ones these projects ship inside their wheels, installed
# with pip into a venv of their own; each package is copied into a scratch
# project so Kiln's registry serves its modules.
#
#   bash scripts/real-suites.sh [SCRATCH_DIR]
#
# Not part of CI (pip and minutes of runtime); its results are quoted in
# README.md ("Supported pytest versions").
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
scratch=${1:-${TMPDIR:-/tmp}/kiln-real-suites}
venv="$scratch/venv"
mkdir -p "$scratch"
export PIP_RETRIES=0 PIP_DEFAULT_TIMEOUT=5 PIP_DISABLE_PIP_VERSION_CHECK=1
if [ ! -x "$venv/bin/python" ]; then
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q "pytest==9.1.*" hypothesis pexpect jsonpath-ng \
    toolz pyflakes simplejson jsonschema
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
platsite=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')

# name : extra pytest arguments
suites=(
  "toolz:"
  "pyflakes:"
  "simplejson:"
  "jsonschema:--ignore=jsonschema/tests/test_jsonschema_test_suite.py"
)
status=0
for entry in "${suites[@]}"; do
  name=${entry%%:*}
  extra=${entry#*:}
  project="$scratch/$name"
  rm -rf "$project"
  mkdir -p "$project"
  src="$site/$name"
  [ -d "$src" ] || src="$platsite/$name"
  cp -r "$src" "$project/"
  find "$project" -name __pycache__ -prune -exec rm -rf {} +
  echo "== $name"
  # shellcheck disable=SC2086
  node "$repo/dist/parity/main.js" "$project" --python "$venv/bin/python" -v -- $extra \
    | grep -v '^    |' || status=1
done
exit $status
