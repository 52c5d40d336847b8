"""Shared test setup: make the helper modules beside this file importable."""

from __future__ import annotations

import sys
from pathlib import Path

# pytest runs with --import-mode=importlib: make the helper modules importable by tests
sys.path.insert(0, str(Path(__file__).resolve().parent))
