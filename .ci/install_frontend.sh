#!/usr/bin/env bash
# Install the front-end assets the maps need offline, from the npm registry, into a
# git-ignored folder (default: <repo>/static/vendor, override with INCLUSION_VENDOR_DIR).
# Nothing downloaded here is committed.  The app reads these files at run time
# (ui/offline_assets.py) and inlines them into the map, so the browser never calls a CDN.
#
#   .ci/install_frontend.sh                  # Leaflet only (what the maps need)
#   .ci/install_frontend.sh --with-browser   # + Debian Chromium for the e2e tests (root, apt)
#
# Each package is pinned by version AND by the registry's sha512 integrity string.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="${INCLUSION_VENDOR_DIR:-$REPO/static/vendor}"

LEAFLET_VERSION="1.9.4"
LEAFLET_INTEGRITY="sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="

if [[ "${1:-}" == "--with-browser" ]]; then
    if [[ ! -x /usr/bin/chromium ]]; then
        echo "Installing Debian chromium (apt-get)..."
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
    fi
fi

command -v npm >/dev/null || { echo "npm is required (apt-get install -y npm)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# npm pack <name>@<version>: fetch the published tarball from the registry (no install scripts run).
(cd "$tmp" && npm pack "leaflet@${LEAFLET_VERSION}" --silent >/dev/null)
tarball="$tmp/leaflet-${LEAFLET_VERSION}.tgz"

actual="$(node -e '
const fs = require("fs"), crypto = require("crypto");
process.stdout.write("sha512-" + crypto.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"));
' "$tarball")"
if [[ "$actual" != "$LEAFLET_INTEGRITY" ]]; then
    echo "leaflet@${LEAFLET_VERSION}: integrity mismatch" >&2
    echo "  expected $LEAFLET_INTEGRITY" >&2
    echo "  got      $actual" >&2
    exit 1
fi

tar -xzf "$tarball" -C "$tmp" package/dist package/LICENSE
stage="$tmp/leaflet"
mkdir -p "$stage/images"
cp "$tmp/package/dist/leaflet.js" "$tmp/package/dist/leaflet.css" "$tmp/package/LICENSE" "$stage/"
cp "$tmp/package/dist/images/"*.png "$stage/images/"
printf '{"package": "leaflet", "version": "%s", "integrity": "%s"}\n' \
    "$LEAFLET_VERSION" "$LEAFLET_INTEGRITY" > "$stage/manifest.json"

mkdir -p "$VENDOR"
rm -rf "$VENDOR/leaflet.old"
[[ -d "$VENDOR/leaflet" ]] && mv "$VENDOR/leaflet" "$VENDOR/leaflet.old"
mv "$stage" "$VENDOR/leaflet"
rm -rf "$VENDOR/leaflet.old"

echo "leaflet@${LEAFLET_VERSION} installed in $VENDOR/leaflet"
