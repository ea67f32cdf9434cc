#!/usr/bin/env bash
# Installs what Kiln's tests and example need on a fresh Debian machine with
# Node: pytest and its plugins from Debian's packages (the comparisons in
# tests/ and bench/ run pytest-xdist, pytest-forked and pytest-timeout),
# pyflakes3 for the harness's lint, redis-server and chromium for the store
# and report tests, then the npm dependencies (better-sqlite3 builds with
# node-gyp, g++ is on the machine) and the build. Then one virtualenv per supported newer pytest (.venvs/, see
# "Supported pytest versions" in the README), made with `python3 -m venv` and
# pip, for the parity matrix.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
/usr/bin/python3 -c "import pytest" 2>/dev/null || need_apt+=(python3-pytest)
/usr/bin/python3 -c "import xdist" 2>/dev/null || need_apt+=(python3-pytest-xdist)
/usr/bin/python3 -c "import pytest_forked" 2>/dev/null || need_apt+=(python3-pytest-forked)
/usr/bin/python3 -c "import pytest_timeout" 2>/dev/null || need_apt+=(python3-pytest-timeout)
# `python3 -m venv` needs ensurepip, which Debian ships apart in python3-venv.
/usr/bin/python3 -c "import ensurepip" 2>/dev/null || need_apt+=(python3-venv)
# The Python harness's linter (`npm run lint:py`).
command -v pyflakes3 >/dev/null 2>&1 || need_apt+=(pyflakes3)
# The Redis store's tests start a real redis-server on a loopback port.
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# The HTML report is checked in headless Chromium (playwright-core drives it).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# The sandbox bench's baseline (bench/sandbox.ts): bubblewrap, per test.
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
# A colour emoji font, so the report's ✅ ❌ ❓ ⏭ marks render in its screenshots.
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need_apt+=(fonts-noto-color-emoji)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The pytest matrix: Debian's pytest on /usr/bin/python3 (above), plus one
# venv per newer series, each with the plugins the example projects and the
# issue's support list name. A venv already holding the right series and every
# plugin is kept, so a rerun costs two interpreter starts.
VENV_PLUGINS=(pytest-cov pytest-asyncio pytest-mock pytest-timeout pytest-xdist hypothesis)
VENV_MODULES="pytest_cov, pytest_asyncio, pytest_mock, pytest_timeout, xdist, hypothesis"
make_venv() {
  local series="$1" dir=".venvs/pytest-$1"
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "
import sys, pytest, $VENV_MODULES
sys.exit(0 if pytest.__version__.startswith('$series.') else 1)" 2>/dev/null; then
    return 0
  fi
  echo "setup: creating $dir (pytest $series.x + ${VENV_PLUGINS[*]})"
  rm -rf "$dir"
  /usr/bin/python3 -m venv "$dir"
  # pip's configured index may be unreachable while a configured mirror
  # (extra-index-url / find-links) has the packages: fail over at once instead
  # of pip's default 5 retries with a long timeout per package.
  local log="$dir/pip-install.log"
  if ! PIP_RETRIES=0 PIP_DEFAULT_TIMEOUT=5 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$dir/bin/python" -m pip install --quiet "pytest==$series.*" "${VENV_PLUGINS[@]}" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "setup: pip install into $dir failed (full log: $log)" >&2
    exit 1
  fi
  "$dir/bin/python" -c "import pytest, $VENV_MODULES; print('setup: $dir has pytest', pytest.__version__)"
}
make_venv 8.4
make_venv 9.1

# npm ci when the lockfile is complete; some npm 11 configurations leave other
# platforms' optional packages (biome's per-OS binaries) out of it, and npm ci
# then refuses the lockfile, so fall back to npm install.
if ! npm ci --no-audit --no-fund; then
  echo "setup: npm ci refused the lockfile; using npm install instead"
  npm install --no-audit --no-fund
fi
npm run build
