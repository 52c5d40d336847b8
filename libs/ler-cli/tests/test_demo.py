"""`ler demo --json`: the learner's journey on the four services embedded in one process runs end
to end, and its summary has the outcomes the story expects."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(180)


def test_demo_json_summary_has_the_expected_outcomes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ler_cli.main", "demo", "--json"],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(proc.stdout)  # JSON only: no narration on stdout
    failed = [s for s in summary["steps"] if not s["ok"]]
    assert not failed, failed
    assert summary["mode"] == "embedded"
    assert re.fullmatch(r"[0-9a-f]{32}", summary["trace_id"]) and set(summary["trace_id"]) != {"0"}
    assert summary["issued"] == {"university": 2, "training_provider": 6}
    assert summary["wallet"]["held"] == 8
    assert summary["wallet"]["verified_on_receipt"] == 8
    assert summary["wallet"]["kinds"] == ["CREDENTIAL_KIND_ACHIEVEMENT", "CREDENTIAL_KIND_CLR"]
    assert summary["curation"]["visible"] == 7 and summary["curation"]["tagged"] == 4
    assert summary["curation"]["featured_first"] is True
    assert summary["curation"]["transcript_hidden"] is True
    assert len(summary["skills_profile"]) == 6
    assert summary["job"] == {
        "required_skills": 4,
        "minimum_education_level": "EDUCATION_LEVEL_UNSPECIFIED",
        "trusted_issuers": 2,  # the university and the training provider
    }
    assert summary["presentation"] == {"credentials": 4, "degree_left_out": True}
    application = summary["application"]
    assert application["state"] == "APPLICATION_STATE_VERIFIED"
    assert application["failed_checks"] == []
    # the job names its trusted issuers: verification checks them, a clean verdict
    assert application["verdict"] == "VERDICT_VERIFIED"
    assert application["warnings"] == []
    assert application["match_score"] == 1.0
    assert application["required_evidenced"] == 4
    assert application["explanation"].startswith("4 of 4 required skills evidenced")
    assert summary["redaction"] == {
        "redacted_fields": summary["redaction"]["redacted_fields"],
        "identity_hidden": True,
        "institutions_hidden": True,
        "dates_hidden": True,
        "names_absent": True,
        "score_unchanged": True,
    }
    assert summary["redaction"]["redacted_fields"] > 0
    revocation = summary["revocation"]
    assert revocation["revoked_skill"] == "Programming"
    assert revocation["application_state"] == "APPLICATION_STATE_FLAGGED"
    assert revocation["flagged_credential"] is True
    assert "revoked" in revocation["flag"]
    assert revocation["wallet_status"] == "CREDENTIAL_STATUS_STATE_REVOKED"
