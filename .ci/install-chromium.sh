#!/usr/bin/env bash
# Installs Debian's Chromium for the browser suite (Playwright drives it; it cannot download its
# own browsers here). Idempotent: does nothing when the binary is already there.
set -euo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    echo "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi

command -v apt-get >/dev/null || { echo "apt-get not found; install Chromium and pass --chromium PATH" >&2; exit 2; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium
[ -x "$CHROMIUM" ] || { echo "chromium installed but $CHROMIUM is missing; pass --chromium PATH" >&2; exit 2; }
echo "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
