#!/usr/bin/env bash
# Installs what Kiln's tests and example need on a fresh Debian machine with
# Node: pytest and its plugins from Debian's packages (the comparisons in
# tests/ and bench/ run pytest-xdist, pytest-forked and pytest-timeout),
# redis-server and chromium for the store and report tests, then the npm
# dependencies (better-sqlite3 builds with node-gyp, g++ is on the machine)
# and the build.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
/usr/bin/python3 -c "import pytest" 2>/dev/null || need_apt+=(python3-pytest)
/usr/bin/python3 -c "import xdist" 2>/dev/null || need_apt+=(python3-pytest-xdist)
/usr/bin/python3 -c "import pytest_forked" 2>/dev/null || need_apt+=(python3-pytest-forked)
/usr/bin/python3 -c "import pytest_timeout" 2>/dev/null || need_apt+=(python3-pytest-timeout)
# The Redis store's tests start a real redis-server on a loopback port.
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# The HTML report is checked in headless Chromium (playwright-core drives it).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# A colour emoji font, so the report's ✅ ❌ ❓ ⏭ marks render in its screenshots.
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need_apt+=(fonts-noto-color-emoji)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# npm ci when the lockfile is complete; some npm 11 configurations leave other
# platforms' optional packages (biome's per-OS binaries) out of it, and npm ci
# then refuses the lockfile, so fall back to npm install.
if ! npm ci --no-audit --no-fund; then
  echo "setup: npm ci refused the lockfile; using npm install instead"
  npm install --no-audit --no-fund
fi
npm run build
