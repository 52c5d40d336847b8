"""`ler demo --json`: the story runs and every step has the outcome the story expects."""

from __future__ import annotations

import json
import subprocess
import sys


def test_demo_json_summary_reports_every_step_as_expected() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ler_cli.main", "demo", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    outcomes = {s["step"]: s["outcome"] for s in summary["steps"]}
    assert outcomes["wallet verifies received credentials"] == "8/8 verified"
    assert outcomes["employer verifies the presentation"] == "verified"
    assert outcomes["tampered presentation"].startswith("rejected")
    assert outcomes["the same presentation after revocation"] == "flagged: status"
    assert summary["issued"] == {"university": 4, "training_provider": 6}
    assert all(s["ok"] for s in summary["steps"])
