"""Shared helpers of the contract tests: repository paths and the code generator module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GEN_SCRIPT = REPO_ROOT / "scripts" / "gen_protos.py"


@pytest.fixture(scope="session")
def gen_protos() -> ModuleType:
    """scripts/gen_protos.py loaded as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gen_protos", GEN_SCRIPT)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {GEN_SCRIPT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_protos", module)
    spec.loader.exec_module(module)
    return module
