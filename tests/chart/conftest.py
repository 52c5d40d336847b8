"""Fixtures of the Helm chart tests: rendered manifests of the chart (see chartkit.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _load_chartkit() -> ModuleType:
    """chartkit.py as the module ``chartkit`` (tests/ is not a package; see pyproject addopts)."""
    path = Path(__file__).with_name("chartkit.py")
    spec = importlib.util.spec_from_file_location("chartkit", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["chartkit"] = module
    spec.loader.exec_module(module)
    return module


chartkit = _load_chartkit()


@pytest.fixture(scope="session")
def renderings() -> dict[str, chartkit.Rendering]:
    """Both renderings, made once per session (each `helm template` takes ~0.1 s)."""
    return {name: chartkit.Rendering(name, files) for name, files in chartkit.RENDERINGS.items()}


@pytest.fixture(params=sorted(chartkit.RENDERINGS))
def rendering(
    request: pytest.FixtureRequest, renderings: dict[str, chartkit.Rendering]
) -> chartkit.Rendering:
    """Each rendering in turn: the default values and values-production.yaml."""
    return renderings[request.param]


@pytest.fixture
def production(renderings: dict[str, chartkit.Rendering]) -> chartkit.Rendering:
    """The rendering with values-production.yaml (NetworkPolicies, ServiceMonitor, Strimzi on)."""
    return renderings["production"]
