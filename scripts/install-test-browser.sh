#!/usr/bin/env bash
# Headless Chromium (Debian's package) and playwright-core for the widget's
# browser tests. Idempotent; playwright never downloads a browser of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: Chromium is missing; install it with: sudo apt-get install -y chromium" >&2
        exit 1
    fi
    echo "installing Debian's chromium for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
    (cd tests/browser && npm ci --no-audit --no-fund)
fi
