"""The learner's journey on the real stack: the four services as processes on PostgreSQL and
Kafka (``start_real_stack``), driven only through gRPC and the issuance-requests topic. Asserts
each step's outcome, as the embedded demo does.

Marked ``real`` (fails, never skips, without the servers) and ``slow``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ler_cli.journey import run_journey
from real_stack import start_real_stack

pytestmark = [pytest.mark.real, pytest.mark.slow, pytest.mark.timeout(300)]


async def test_journey_on_the_real_stack(tmp_path: Path) -> None:
    lines: list[str] = []
    async with start_real_stack(tmp_path) as running:
        assert {s.name for s in running.services.values()} == {
            "issuance",
            "wallet",
            "verification",
            "intake",
        }
        result = await run_journey(running.stack, narrate=lines.append, wait=60)
        alive = {name: s.process.poll() is None for name, s in running.services.items()}
        logs = {name: s.log_path for name, s in running.services.items()}
    assert all(alive.values()), alive
    s = result.summary
    unexpected = [step for step in s["steps"] if not step["ok"]]
    assert not unexpected, (unexpected, lines)
    assert re.fullmatch(r"[0-9a-f]{32}", result.trace_id) and int(result.trace_id, 16) != 0
    assert s["issued"] == {"university": 2, "training_provider": 6}
    # credential counts: all eight delivered over Kafka and verified on receipt
    assert s["wallet"]["held"] == 8 and s["wallet"]["verified_on_receipt"] == 8
    assert s["curation"]["visible"] == 7 and s["curation"]["tagged"] == 4
    assert len(s["skills_profile"]) == 6
    assert s["presentation"] == {"credentials": 4, "degree_left_out": True}
    # verdict: verified by the verification process (over gRPC from intake)
    assert s["application"]["state"] == "APPLICATION_STATE_VERIFIED"
    assert s["application"]["failed_checks"] == []
    # the job names its trusted issuers: verification checks them, a clean verdict
    assert s["application"]["verdict"] == "VERDICT_VERIFIED"
    assert s["application"]["warnings"] == []
    assert s["job"]["trusted_issuers"] == 2
    # match score and explanation
    assert s["application"]["match_score"] == 1.0
    assert s["application"]["required_evidenced"] == 4
    assert s["application"]["explanation"].startswith(
        "4 of 4 required skills evidenced by 4 verified credentials"
    )
    # redaction
    redaction = s["redaction"]
    assert redaction["redacted_fields"] > 0
    assert all(
        redaction[k]
        for k in (
            "identity_hidden",
            "institutions_hidden",
            "dates_hidden",
            "names_absent",
            "score_unchanged",
        )
    ), redaction
    # revocation flag: the status event reached intake, which re-verified and flagged
    assert s["revocation"]["application_state"] == "APPLICATION_STATE_FLAGGED"
    assert s["revocation"]["flagged_credential"] is True
    assert s["revocation"]["wallet_status"] == "CREDENTIAL_STATUS_STATE_REVOKED"
    # the journey's trace crossed the processes: the revocation went issuance -> Kafka -> intake,
    # whose re-verification and flag ran inside it (its JSON log lines carry the trace id)
    traced = [
        entry
        for entry in map(json.loads, logs["intake"].read_text().splitlines())
        if entry.get("trace_id") == result.trace_id
    ]
    assert any("after a status change" in entry["msg"] for entry in traced), traced[-5:]
