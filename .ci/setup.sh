#!/usr/bin/env bash
# Set-up on a fresh machine: a virtual environment with the pinned packages, and the map's
# front-end assets (Leaflet…) installed from the npm registry into static/vendor (git-ignored).
#   bash .ci/setup.sh          runtime only (to run the app)
#   bash .ci/setup.sh --dev    plus test tools, reference libraries and headless Chromium
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "${1:-}" = "--dev" ]; then
  .venv/bin/python -m pip install --quiet -r requirements-dev.txt
else
  .venv/bin/python -m pip install --quiet -r requirements.txt
fi
bash .ci/install_frontend.sh
# Test tools from Debian: headless Chromium (browser tests), poppler-utils (pdftotext / pdftoppm
# read back the PDF documents the app writes).
if [ "${1:-}" = "--dev" ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/pdftotext ]; }; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null
  else
    echo "note: chromium or poppler-utils missing and not root: the browser and PDF tests will be skipped" >&2
  fi
fi
