#!/usr/bin/env bash
# Installs the pinned ghz (a gRPC load generator written in Go) into tools/bin/ghz by building it
# with `go install` from the Go module proxy. bench/verification.py drives the service's unary
# calls with it, so the load's own cost is a Go client's, not a second Python process's.
# Idempotent: does nothing when tools/bin/ghz was built from the pinned version.
#
# Usage: tools/ghz.sh            install (or confirm) the pinned ghz into tools/bin/ghz
#        tools/ghz.sh --help     (LER_GHZ_VERSION=vX.Y.Z overrides the pin)
set -euo pipefail

GHZ_VERSION="${LER_GHZ_VERSION:-v0.120.0}"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
fi

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin_dir="$tools_dir/bin"
ghz="$bin_dir/ghz"

built_version() {
    # the module version `go install` recorded in the binary; empty when absent
    if [[ -x "$ghz" ]]; then
        go version -m "$ghz" 2>/dev/null \
            | awk '$1 == "mod" && $2 == "github.com/bojand/ghz" { print $3 }'
    fi
}

if ! command -v go >/dev/null 2>&1; then
    echo "tools/ghz.sh: go not found on PATH; install Go to build ghz $GHZ_VERSION" >&2
    exit 1
fi

if [[ "$(built_version)" == "$GHZ_VERSION" ]]; then
    echo "ghz: up to date ($GHZ_VERSION)"
    exit 0
fi

mkdir -p "$bin_dir"
start=$SECONDS
GOBIN="$bin_dir" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
    "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
got="$(built_version)"
if [[ "$got" != "$GHZ_VERSION" ]]; then
    echo "tools/ghz.sh: built ghz is '$got', expected $GHZ_VERSION" >&2
    exit 1
fi
echo "ghz: installed $GHZ_VERSION into tools/bin in $((SECONDS - start))s"
