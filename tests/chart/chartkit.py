"""Helpers of the Helm chart tests: the pinned helm binary, rendering, values.

Loaded by conftest.py as the module ``chartkit``. The tests call ``tools/bin/helm``
(installed by ``tools/helm.sh``); without it they fail with that instruction rather than
skip, so a missing tool can never pass for a green chart.
"""

from __future__ import annotations

import copy
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "ler"
HELM = REPO / "tools" / "bin" / "helm"
PRODUCTION_VALUES = CHART / "values-production.yaml"

# The Kubernetes release the manifests are rendered for and validated against: the newest whose
# API schemas kubernetes-validate ships, and the version helm 3.22 assumes by default.
KUBE_VERSION = "1.37.0"
# The oldest release Chart.yaml's kubeVersion admits; manifests are validated against it too.
MIN_KUBE_VERSION = "1.29.0"
RELEASE = "ler"
NAMESPACE = "ler"
COMPONENTS = ("intake", "issuance", "verification", "wallet")

Manifest = dict[str, Any]


class HelmFailed(Exception):
    """`helm` exited non-zero; the message is its stderr."""


def run_helm(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run tools/bin/helm; fails the test (never skips) when helm is not installed."""
    if not HELM.is_file():
        pytest.fail(f"{HELM.relative_to(REPO)} is missing: run tools/helm.sh to install helm")
    return subprocess.run(
        [str(HELM), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def helm_template_text(values_files: Iterable[Path] = (), set_values: Iterable[str] = ()) -> str:
    """`helm template` output for the chart, as `helm install` would render it (hooks included).

    Raises HelmFailed with helm's message when the values are refused.
    """
    args = [
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
    ]
    for path in values_files:
        args += ["--values", str(path)]
    for item in set_values:
        args += ["--set", item]
    result = run_helm(*args)
    if result.returncode != 0:
        raise HelmFailed(result.stderr.strip())
    return result.stdout


def helm_template(
    values_files: Iterable[Path] = (), set_values: Iterable[str] = ()
) -> list[Manifest]:
    """The rendered manifests as dicts; raises HelmFailed."""
    text = helm_template_text(values_files, set_values)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of values files: maps merge key by key, anything else is replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_values(*files: Path) -> dict[str, Any]:
    """The chart's values.yaml with the given files merged over it."""
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    for path in files:
        values = deep_merge(values, yaml.safe_load(path.read_text()))
    return values


class Rendering:
    """One rendering of the chart with the values that produced it."""

    def __init__(
        self, name: str, values_files: tuple[Path, ...], overrides: dict[str, Any] | None = None
    ) -> None:
        """Render with ``values_files`` and then ``overrides`` (a values file's contents)."""
        self.name = name
        self.values = deep_merge(load_values(*values_files), overrides or {})
        extra: tuple[Path, ...] = ()
        if overrides:
            with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
                yaml.safe_dump(overrides, f)
            extra = (Path(f.name),)
        try:
            self.manifests = helm_template((*values_files, *extra))
        finally:
            for path in extra:
                path.unlink()
        self.chart = yaml.safe_load((CHART / "Chart.yaml").read_text())

    def of_kind(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] == kind]

    def named(self, kind: str, name: str) -> Manifest:
        found = [m for m in self.of_kind(kind) if m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]

    def component(self, kind: str, component: str) -> Manifest:
        return self.named(kind, f"{RELEASE}-{component}")

    def is_hook(self, manifest: Manifest) -> bool:
        return "helm.sh/hook" in (manifest["metadata"].get("annotations") or {})


RENDERINGS: dict[str, tuple[Path, ...]] = {
    "default": (),
    "production": (PRODUCTION_VALUES,),
}
