"""The journey on the embedded stack, in this process: one trace covers it — the journey's
gRPC calls reach all four services and its issuance requests are consumed in that trace, and the
services' own hops (issued → wallet, status → intake, intake → verification) continue it."""

from __future__ import annotations

import pytest
from ler_cli.commands.demo import _table
from ler_cli.journey import EmbeddedStack, JourneyResult, RealStack, Step, run_journey
from ler_cli.journey.errors import JourneyError
from ler_cli.main import run
from ler_platform.tracing import install_in_memory_exporter
from opentelemetry.trace import SpanKind

pytestmark = pytest.mark.timeout(120)


async def test_journey_is_one_trace_across_the_four_services() -> None:
    exporter = install_in_memory_exporter()
    lines: list[str] = []
    async with EmbeddedStack() as stack:
        result = await run_journey(stack, narrate=lines.append, wait=30)
    assert result.ok, [s for s in result.steps if not s.ok]
    # the job's trusted issuers make a clean verdict; caches on, the revocation still flags
    application = result.summary["application"]
    assert (application["verdict"], application["warnings"]) == ("VERDICT_VERIFIED", [])
    assert result.summary["revocation"]["application_state"] == "APPLICATION_STATE_FLAGGED"
    assert len(result.trace_id) == 32 and int(result.trace_id, 16) != 0
    assert lines[0] == "1. A university and a training provider register as issuers."
    assert any(line.startswith("10. The training provider revokes") for line in lines)

    spans = [
        s
        for s in exporter.get_finished_spans()
        if format(s.context.trace_id, "032x") == result.trace_id
    ]
    names = {(s.name, s.kind) for s in spans}
    roots = [s for s in spans if s.name == "ler.journey"]
    assert len(roots) == 1 and roots[0].parent is None
    for service in (
        "ler.issuance.v1.IssuanceService",
        "ler.wallet.v1.WalletService",
        "ler.intake.v1.IntakeService",
        # called by intake, not by the journey: the trace crossed a service-to-service hop
        "ler.verification.v1.VerificationService",
    ):
        assert any(n.startswith(service + "/") and k == SpanKind.SERVER for n, k in names), service
    for topic_span in (
        ("ler.issuance.requests.v1 publish", SpanKind.PRODUCER),  # the journey's own publishes
        ("ler.issuance.requests.v1 process", SpanKind.CONSUMER),
        ("ler.credentials.issued.v1 process", SpanKind.CONSUMER),  # delivery to the wallet
        ("ler.credentials.status.v1 process", SpanKind.CONSUMER),  # the revocation reaching intake
    ):
        assert topic_span in names, (topic_span, sorted(n for n, _ in names))
    publishes = [s for s in spans if s.name == "ler.issuance.requests.v1 publish"]
    assert len(publishes) == 8  # the degree, six badges and the CLR transcript


def test_real_stack_from_env_names_what_is_missing_and_hides_secrets() -> None:
    with pytest.raises(JourneyError, match="LER_INTAKE_OPERATOR_KEY, LER_INTAKE_CLIENT_KEY"):
        RealStack.from_env({"LER_ISSUANCE_OPERATOR_TOKEN": "t0ken-value"})
    stack = RealStack.from_env(
        {
            "LER_ISSUANCE_OPERATOR_TOKEN": "t0ken-value",
            "LER_INTAKE_OPERATOR_KEY": "0perator-key",
            "LER_INTAKE_CLIENT_KEY": "c1ient-key",
            "LER_WALLET_ADDR": "10.0.0.7:6000",
        }
    )
    assert stack.wallet == "10.0.0.7:6000" and stack.issuance == "127.0.0.1:50051"
    assert stack.kafka_bootstrap == "127.0.0.1:59092"
    for secret in ("t0ken-value", "0perator-key", "c1ient-key"):
        assert secret not in repr(stack)


async def test_an_unreachable_service_is_one_clear_error_not_a_hang() -> None:
    stack = RealStack(
        issuance="127.0.0.1:1",  # nothing listens on port 1
        wallet="127.0.0.1:1",
        verification="127.0.0.1:1",
        intake="127.0.0.1:1",
        issuance_operator_token="t0ken-value",
        intake_operator_key="0perator-key",
        intake_client_key="c1ient-key",
    )
    with pytest.raises(JourneyError) as caught:
        await run_journey(stack, wait=5)
    message = str(caught.value)
    assert message.startswith("registering Riverside State University: UNAVAILABLE"), message
    assert "t0ken-value" not in message


def test_ler_journey_without_credentials_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("LER_ISSUANCE_OPERATOR_TOKEN", "LER_INTAKE_OPERATOR_KEY", "LER_INTAKE_CLIENT_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert run(["journey"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ler: the real stack needs"), err


def test_summary_table_lists_every_step_and_what_was_expected_when_it_differs() -> None:
    result = JourneyResult(
        trace_id="ab" * 16,
        summary={"seconds": 1.5, "total_seconds": 4.0},
        steps=[
            Step("wallet receives and verifies", "8/8 verified", "8/8 verified"),
            Step("skills match", "score 0.75, 3/4 required evidenced", "score 1.00, 4/4"),
        ],
    )
    table = _table(result).splitlines()
    assert table[2].split() == ["wallet", "receives", "and", "verifies", "yes", "8/8", "verified"]
    assert " NO  score 0.75" in table[3]
    assert table[4].strip() == "expected: score 1.00, 4/4"
