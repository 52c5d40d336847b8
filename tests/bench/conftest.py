"""pytest runs with --import-mode=importlib: make bench/ (report.py, memory.py) importable."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
