"""``ler bench crypto --json PATH``: the figures the benchmark report reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ler_cli import main as cli_main

FIGURE_KEYS = {"name", "value", "unit", "baseline_name", "baseline_value", "ratio", "target"}


def test_json_path_writes_the_report_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "crypto.json"
    # the real benchmark, with very short rows: the figures must come from a real run
    assert cli_main.run(["bench", "crypto", "--seconds", "0.02", "--json", str(out)]) == 0
    assert "x Ed25519" in capsys.readouterr().out  # the table still goes to stdout
    figures = json.loads(out.read_text())
    names = {f["name"] for f in figures}
    assert {
        "crypto eddsa-rdfc-2022 sign",
        "crypto eddsa-rdfc-2022 verify",
        "crypto eddsa-jcs-2022 sign",
        "crypto eddsa-jcs-2022 verify",
    } <= names
    for figure in figures:
        assert set(figure) == FIGURE_KEYS
        assert figure["unit"] == "ops/s"
        assert figure["value"] > 0 and figure["baseline_value"] > 0
        # the ratio is the row's rate over its same-run baseline (rounded to 4 places)
        assert figure["ratio"] == pytest.approx(
            figure["value"] / figure["baseline_value"], rel=0.01, abs=1e-4
        )
        expected_base = "verify" if "verify" in figure["name"] else "sign"
        assert figure["baseline_name"] == f"ed25519 {expected_base} (32 B)"


def test_json_path_in_a_missing_directory_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nope" / "crypto.json"
    assert cli_main.run(["bench", "crypto", "--seconds", "0.01", "--json", str(target)]) == 2
    assert f"directory {target.parent} does not exist" in capsys.readouterr().err
    assert not target.exists()


def test_non_positive_seconds_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.run(["bench", "crypto", "--seconds", "0"]) == 2
    assert "--seconds must be positive" in capsys.readouterr().err
