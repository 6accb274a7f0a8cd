#!/usr/bin/env bash
# Installs the Unleash server used by the flag-backend integration tests into a cache directory.
# Idempotent: a second run with the package already present does nothing.
set -euo pipefail

VERSION="${UNLEASH_VERSION:-8.2.0}"
DEST="${CHAPERONE_CACHE:-$HOME/.cache/chaperone}/unleash"
MARKER="$DEST/node_modules/unleash-server/package.json"

if [ -f "$MARKER" ] && grep -q "\"version\": \"$VERSION\"" "$MARKER"; then
    echo "unleash-server $VERSION already installed in $DEST"
    exit 0
fi

command -v node >/dev/null || { echo "node is not installed; install Node.js 20+" >&2; exit 2; }
command -v npm >/dev/null || { echo "npm is not installed; install Node.js 20+ with npm" >&2; exit 2; }

mkdir -p "$DEST"
cd "$DEST"
[ -f package.json ] || echo '{"name":"chaperone-unleash","private":true}' > package.json
# unleash-server declares a newer Node engine than 20 but runs on it; keep the warning quiet.
npm install --no-audit --no-fund --loglevel=error --omit=dev "unleash-server@$VERSION"
echo "unleash-server $VERSION installed in $DEST"
