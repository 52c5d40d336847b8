#!/usr/bin/env bash
# Installs the pinned npm tooling (buf) into tools/node_modules. Idempotent: does nothing when the
# installed packages already match package-lock.json.
#
# Usage: tools/install.sh
set -euo pipefail

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$tools_dir"

if ! command -v npm >/dev/null 2>&1; then
    echo "tools/install.sh: npm not found; install Node.js 18+ (e.g. apt-get install nodejs npm)" >&2
    exit 1
fi

# npm writes node_modules/.package-lock.json after a successful install; when it equals the
# committed lock's package set, the install is current and `npm ci` (which wipes node_modules
# first) would only waste time.
stamp="node_modules/.ler-install-stamp"
lock_hash="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"
if [[ -x node_modules/.bin/buf && -f "$stamp" && "$(cat "$stamp")" == "$lock_hash" ]]; then
    echo "tools: up to date ($(node_modules/.bin/buf --version | sed 's/^/buf /'))"
    exit 0
fi

# `npm ci` installs exactly what package-lock.json records (the lock carries versions and
# integrity hashes; .npmrc keeps registry URLs out of it and skips install scripts).
npm ci --no-audit --no-fund --loglevel=error
echo "$lock_hash" > "$stamp"
echo "tools: installed buf $(node_modules/.bin/buf --version)"
