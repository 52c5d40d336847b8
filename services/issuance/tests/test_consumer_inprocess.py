"""The issuance-request consumer on the in-process bus and SQLite (embedded mode)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from issuance_helpers import poll_until, read_topic, request_record, service_settings
from ler.common.v1 import credential_pb2 as cpb
from ler.issuance.v1 import events_pb2 as epb
from ler.issuance.v1 import resources_pb2 as rpb
from ler_issuance.bootstrap import IssuanceApp, bootstrap
from ler_issuance.service_layer.issuers import NewIssuer, register_issuer
from ler_issuance.tables import credentials
from ler_platform.events.inprocess import InProcessBus
from ler_platform.events.records import OutgoingRecord
from ler_platform.events.runner import dlq_topic
from sqlalchemy import func, select

LEARNER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def spec(record_id: str, grade: str = "A") -> rpb.CredentialSpec:
    return rpb.CredentialSpec(
        record_id=record_id,
        subject=rpb.Subject(did=LEARNER),
        achievement=rpb.Achievement(
            name="Welding Certificate",
            description="Certified welder.",
            criteria_narrative="Pass the practical exam.",
            achievement_type=cpb.ACHIEVEMENT_TYPE_CERTIFICATE,
            result_descriptions=[
                rpb.ResultDescription(
                    id="g",
                    name="Grade",
                    result_type=rpb.RESULT_TYPE_LETTER_GRADE,
                    allowed_values=["A", "B"],
                )
            ],
        ),
        results=[rpb.Result(result_description_id="g", value=grade)],
        cryptosuite=cpb.CRYPTOSUITE_EDDSA_JCS_2022,
    )


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[IssuanceApp, InProcessBus]]:
    bus = InProcessBus(partitions=3)
    await bus.start()
    settings = service_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'issuance.db'}", consumer_retry_backoff_seconds=0.01
    )
    instance = bootstrap(settings, bus=bus)
    await instance.runtime.start()
    try:
        yield instance, bus
    finally:
        await instance.runtime.stop()
        await bus.stop()


async def test_requests_issue_once_and_rejects_go_to_dlq_and_results(
    app: tuple[IssuanceApp, InProcessBus],
) -> None:
    instance, bus = app
    settings = instance.runtime.settings
    topic = settings.requests_topic  # type: ignore[attr-defined]
    issuer, _ = await register_issuer(
        instance.ctx, NewIssuer(name="Trade School", url="https://trade.example")
    )
    iid = issuer.issuer_id
    records = [request_record(topic, iid, spec(f"R{i}")) for i in range(20)]
    records.append(records[3])  # redelivered event (same ce_id)
    records.append(request_record(topic, iid, spec("R5")))  # same record, new event: replay
    records.append(request_record(topic, iid, spec("R6", grade="B")))  # conflict
    records.append(request_record(topic, iid, spec("BAD1", grade="Z")))  # invalid grade
    records.append(request_record(topic, iid, spec("R8"), key="iss_other:R8"))  # key mismatch
    records.append(request_record(topic, "iss_unknown", spec("U1")))  # unknown issuer
    records.append(OutgoingRecord(topic, f"{iid}:GARBAGE".encode(), b"\xff\x00garbage", ()))
    await bus.publish_batch(records)

    async def count() -> int:
        async with instance.runtime.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(credentials))).scalar())

    await poll_until(count, lambda n: n == 20, within=30, what="20 credentials")
    dlq = await read_topic(bus, dlq_topic(topic), 5)
    reasons = {r.key.decode(): dict(r.headers)["ler_error"].decode() for r in dlq}
    assert set(reasons) == {
        f"{iid}:R6",
        f"{iid}:BAD1",
        "iss_other:R8",
        "iss_unknown:U1",
        f"{iid}:GARBAGE",
    }
    assert reasons[f"{iid}:R6"].startswith("RECORD_ID_CONFLICT")
    assert "allowed values" in reasons[f"{iid}:BAD1"]
    assert reasons["iss_other:R8"].startswith("KEY_MISMATCH")
    assert reasons["iss_unknown:U1"].startswith("ISSUER_NOT_FOUND")
    assert reasons[f"{iid}:GARBAGE"].startswith("MALFORMED_REQUEST")
    results = await read_topic(bus, settings.results_topic, 25)  # type: ignore[attr-defined]
    outcomes: dict[str, list[int]] = {}
    for r in results:
        message = epb.IssuanceRequestResult.FromString(r.value)
        outcomes.setdefault(message.record_id, []).append(message.outcome)
        if message.outcome == epb.ISSUANCE_REQUEST_OUTCOME_REJECTED:
            assert message.error.reason and message.error.message
    assert outcomes["R5"] == [
        epb.ISSUANCE_REQUEST_OUTCOME_ISSUED,
        epb.ISSUANCE_REQUEST_OUTCOME_REPLAYED,
    ]
    assert outcomes["R3"] == [epb.ISSUANCE_REQUEST_OUTCOME_ISSUED]  # the redelivery: no result
    assert outcomes["R6"][-1] == epb.ISSUANCE_REQUEST_OUTCOME_REJECTED
    assert outcomes["GARBAGE"] == [epb.ISSUANCE_REQUEST_OUTCOME_REJECTED]
    issued = await read_topic(bus, settings.issued_topic, 20)  # type: ignore[attr-defined]
    assert len({epb.CredentialIssued.FromString(r.value).record_id for r in issued}) == 20


async def test_redelivery_after_commit_sends_rejections_to_the_dlq_again(
    app: tuple[IssuanceApp, InProcessBus],
) -> None:
    """A crash between the database commit and the DLQ publish: the redelivered batch is
    already claimed in the inbox, yet its rejections are returned again and nothing is
    issued or reported twice."""
    from ler_platform.events.records import ConsumedRecord

    instance, _ = app
    issuer, _ = await register_issuer(
        instance.ctx, NewIssuer(name="Trade School", url="https://trade.example")
    )
    topic = "direct.requests"
    outgoing = [
        request_record(topic, issuer.issuer_id, spec("OK1")),
        request_record(topic, issuer.issuer_id, spec("BAD", grade="Z")),
    ]
    consumed = [
        ConsumedRecord(topic, 0, offset, r.key, r.value, tuple(r.headers), 0)
        for offset, r in enumerate(outgoing)
    ]
    first = await instance.consumer.handle(consumed)
    again = await instance.consumer.handle(consumed)
    assert [r.record.offset for r in first] == [1] == [r.record.offset for r in again]
    assert first[0].error.reason == again[0].error.reason
    assert "allowed values" in again[0].error.reason
    async with instance.runtime.engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(credentials))).scalar()
    assert total == 1
    assert (instance.consumer.issued, instance.consumer.rejected) == (1, 1)


async def test_issued_event_and_result_continue_the_request_trace(
    app: tuple[IssuanceApp, InProcessBus],
) -> None:
    instance, bus = app
    settings = instance.runtime.settings
    issuer, _ = await register_issuer(
        instance.ctx, NewIssuer(name="Trade School", url="https://trade.example")
    )
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    record = request_record(settings.requests_topic, issuer.issuer_id, spec("T1"))  # type: ignore[attr-defined]
    traced = OutgoingRecord(
        record.topic,
        record.key,
        record.value,
        (*record.headers, ("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01".encode())),
    )
    await bus.publish_batch([traced])
    for topic in (settings.issued_topic, settings.results_topic):  # type: ignore[attr-defined]
        (out,) = await read_topic(bus, topic, 1)
        parent = dict(out.headers).get("traceparent", b"").decode()
        assert parent.split("-")[1] == trace_id, (topic, parent)
