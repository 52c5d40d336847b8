"""Golden renderings: the chart's full output for both values files is checked in
(tests/chart/golden/), so a review shows exactly what a template change does to the manifests.

After an intended change, regenerate them and review the diff:
    LER_UPDATE_GOLDEN=1 uv run pytest tests/chart/test_golden.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from chartkit import RENDERINGS, helm_template_text

GOLDEN = Path(__file__).with_name("golden")


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_rendering_matches_the_golden_file(name: str) -> None:
    rendered = helm_template_text(RENDERINGS[name])
    golden = GOLDEN / f"{name}.yaml"
    if os.environ.get("LER_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(rendered)
    assert golden.is_file(), f"{golden} is missing: run with LER_UPDATE_GOLDEN=1 to write it"
    expected = golden.read_text()
    if rendered != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                rendered.splitlines(keepends=True),
                fromfile=f"golden/{name}.yaml",
                tofile="helm template",
                n=2,
            )
        )
        pytest.fail(
            "the chart renders differently from its golden file; if intended, regenerate with "
            f"LER_UPDATE_GOLDEN=1 uv run pytest tests/chart/test_golden.py\n{diff[:6000]}"
        )
