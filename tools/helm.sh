#!/usr/bin/env bash
# Installs the pinned helm into tools/bin/helm by building it with `go install` from the Go
# module proxy (no prebuilt binary download: only package registries are reachable here).
# Idempotent: does nothing when tools/bin/helm already reports the pinned version.
#
# Usage: tools/helm.sh            install (or confirm) the pinned helm into tools/bin/helm
#        tools/helm.sh --help     (LER_HELM_VERSION=vX.Y.Z overrides the pin)
#
# Needs Go 1.26+ on PATH (helm v3.22's go.mod requires it). The first build downloads and compiles helm's module graph
# (a few minutes on 2 cores); later runs return at once.
set -euo pipefail

# Pinned helm release; the chart's tests and `make lint` are run with exactly this version.
HELM_VERSION="${LER_HELM_VERSION:-v3.22.0}"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
fi

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin_dir="$tools_dir/bin"
helm="$bin_dir/helm"

stamp="$bin_dir/.helm-build"

installed_version() {
    # `helm version --template` prints e.g. v3.22.0; empty when helm is absent or broken.
    if [[ -x "$helm" ]]; then
        "$helm" version --template '{{.Version}}' 2>/dev/null || true
    fi
}

# Only this script's stamped build below writes the stamp, so a helm built another way (without
# the version stamps) is rebuilt.
if [[ "$(installed_version)" == "$HELM_VERSION" && -f "$stamp" \
      && "$(cat "$stamp")" == "$HELM_VERSION" ]]; then
    echo "helm: up to date ($HELM_VERSION)"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    echo "tools/helm.sh: go not found on PATH; install Go 1.26+ to build helm $HELM_VERSION" >&2
    exit 1
fi

mkdir -p "$bin_dir"
start=$SECONDS
# helm's release build (its Makefile) stamps two things through -ldflags that a plain
# `go install` leaves at source defaults: its own version ("v3.22" instead of v3.22.0) and the
# Kubernetes version `helm template`/`helm lint` assume (1.20 instead of 1.<client-go minor>).
# Stamp both the same way: Kubernetes 1.N where helm's go.mod requires k8s.io/client-go v0.N.
gomod="$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" \
    | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
k8s_minor="$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod")"
if [[ -z "$k8s_minor" ]]; then
    echo "tools/helm.sh: cannot read k8s.io/client-go's version from $gomod" >&2
    exit 1
fi
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in pkg/lint/rules pkg/chartutil; do
    ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s_minor"
done
GOBIN="$bin_dir" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"

got="$(installed_version)"
if [[ "$got" != "$HELM_VERSION" ]]; then
    echo "tools/helm.sh: built helm reports '$got', expected $HELM_VERSION" >&2
    exit 1
fi
echo "$HELM_VERSION" > "$stamp"
echo "helm: installed $HELM_VERSION (Kubernetes 1.$k8s_minor) into tools/bin in $((SECONDS - start))s"
