#!/usr/bin/env bash
# Checks the protobuf contracts for breaking changes (buf.yaml: WIRE_JSON) against a git ref of
# this repository, `main` by default.
#
# Usage: tools/buf-breaking.sh [REF]      e.g. tools/buf-breaking.sh HEAD~1
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
ref="${1:-main}"
buf="tools/node_modules/.bin/buf"
[[ -x "$buf" ]] || tools/install.sh

# Until the contracts exist on REF there is nothing they could break (buf refuses an input with
# no .proto files), so say so and pass.
if ! git ls-tree -r --name-only "$ref" -- protos 2>/dev/null | grep -q '\.proto$'; then
    echo "buf breaking: no .proto files under protos/ on '$ref'; nothing to compare against"
    exit 0
fi

if git show-ref --verify --quiet "refs/heads/$ref"; then
    against=".git#branch=$ref"
else
    against=".git#ref=$ref"
fi
"$buf" breaking --against "$against"
echo "buf breaking: no breaking changes against '$ref'"
