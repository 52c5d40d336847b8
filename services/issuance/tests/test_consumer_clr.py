"""CLR 2.0 transcripts streamed on the requests topic (in-process bus, SQLite)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from issuance_helpers import achievement, poll_until, read_topic, service_settings
from ler.common.v1 import credential_pb2 as cpb
from ler.issuance.v1 import events_pb2 as epb
from ler.issuance.v1 import issuance_service_pb2 as ispb
from ler.issuance.v1 import resources_pb2 as rpb
from ler_issuance.bootstrap import IssuanceApp, bootstrap
from ler_issuance.service_layer.issuers import NewIssuer, register_issuer
from ler_issuance.service_layer.templates import create_template
from ler_issuance.tables import credentials
from ler_platform.events.envelope import Event
from ler_platform.events.inprocess import InProcessBus
from ler_platform.events.records import OutgoingRecord
from ler_platform.events.runner import dlq_topic
from sqlalchemy import select

LEARNER = rpb.Subject(did="did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")


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


def record(
    topic: str,
    issuer_id: str,
    request_id: str,
    *,
    spec: rpb.CredentialSpec | None = None,
    clr: epb.ClrSpec | None = None,
    key: str = "",
) -> OutgoingRecord:
    """An IssuanceRequested with a request id, keyed by its CLR's (else spec's) record id."""
    message = epb.IssuanceRequested(issuer_id=issuer_id, request_id=request_id)
    record_id = ""
    if spec is not None:
        message.spec.CopyFrom(spec)
        record_id = spec.record_id
    if clr is not None:
        message.clr.CopyFrom(clr)
        record_id = clr.record_id
    return Event(
        key=key or f"{issuer_id}:{record_id}", message=message, source="urn:test:sis"
    ).to_record(topic)


def course(record_id: str, grade: str, **kw: object) -> ispb.ClrAchievement:
    return ispb.ClrAchievement(
        record_id=record_id,
        results=[rpb.Result(result_description_id="grade", value=grade)],
        credits_earned=4,
        **kw,  # type: ignore[arg-type]
    )


async def test_streamed_clr_transcripts(app: tuple[IssuanceApp, InProcessBus]) -> None:
    """Issued once per record id, replayed, conflicting, invalid and unresolvable CLRs: every
    outcome on the results topic with the request's id, rejects in the DLQ with the reason,
    and nothing of a rejected transcript stored."""
    instance, bus = app
    settings = instance.runtime.settings
    topic = settings.requests_topic  # type: ignore[attr-defined]
    issuer, _ = await register_issuer(
        instance.ctx, NewIssuer(name="State University", url="https://uni.example")
    )
    iid = issuer.issuer_id
    template = await create_template(instance.ctx, iid, achievement("Databases"))
    degree = rpb.CredentialSpec(
        record_id="DEG",
        subject=LEARNER,
        achievement=rpb.Achievement(
            name="BSc Data Science",
            description="Undergraduate degree.",
            criteria_narrative="120 credits.",
            achievement_type=cpb.ACHIEVEMENT_TYPE_BACHELOR_DEGREE,
        ),
    )
    inline = rpb.Achievement(
        name="Statistics",
        description="Probability and statistics.",
        criteria_narrative="Pass the exam.",
        achievement_type=cpb.ACHIEVEMENT_TYPE_COURSE,
        result_descriptions=[
            rpb.ResultDescription(
                id="grade",
                name="Grade",
                result_type=rpb.RESULT_TYPE_LETTER_GRADE,
                allowed_values=["A", "B"],
            )
        ],
    )
    transcript = epb.ClrSpec(
        record_id="CLR1",
        subject=LEARNER,
        name="Official transcript",
        description="Academic record.",
        credential_record_ids=["DEG"],
        achievements=[
            course("C1", "A", template_id=template.template_id),
            course("C2", "B", achievement=inline),
        ],
        cryptosuite=cpb.CRYPTOSUITE_EDDSA_JCS_2022,
    )
    changed = epb.ClrSpec()
    changed.CopyFrom(transcript)
    changed.name = "Unofficial transcript"
    unresolved = epb.ClrSpec(
        record_id="CLR2", subject=LEARNER, name="Transcript", credential_record_ids=["NOPE"]
    )
    bad_grade = epb.ClrSpec(
        record_id="CLR3",
        subject=LEARNER,
        name="Transcript",
        achievements=[course("C3", "A", achievement=inline), course("C4", "Z", achievement=inline)],
    )
    await bus.publish_batch([record(topic, iid, "run-1/deg", spec=degree)])
    # streamed CLRs reference records already processed (their results confirmed)
    await read_topic(bus, settings.results_topic, 1)  # type: ignore[attr-defined]
    await bus.publish_batch(
        [
            record(topic, iid, "run-1/clr1", clr=transcript),
            record(topic, iid, "run-1/clr1-again", clr=transcript),  # replay
            record(topic, iid, "run-1/clr1-changed", clr=changed),  # conflict
            record(topic, iid, "run-1/clr2", clr=unresolved),
            record(topic, iid, "run-1/clr3", clr=bad_grade),
            record(topic, iid, "run-1/both", spec=degree, clr=transcript, key=f"{iid}:CLR1"),
        ]
    )
    results = await read_topic(bus, settings.results_topic, 7)  # type: ignore[attr-defined]
    by_request = {
        m.request_id: m for m in (epb.IssuanceRequestResult.FromString(r.value) for r in results)
    }
    assert len(results) == 7 and len(by_request) == 7
    issued, again = by_request["run-1/clr1"], by_request["run-1/clr1-again"]
    assert issued.outcome == epb.ISSUANCE_REQUEST_OUTCOME_ISSUED
    assert (issued.kind, issued.record_id) == (cpb.CREDENTIAL_KIND_CLR, "CLR1")
    assert len(issued.issued_credential_ids) == 2
    assert again.outcome == epb.ISSUANCE_REQUEST_OUTCOME_REPLAYED
    assert again.credential_id == issued.credential_id
    assert list(again.issued_credential_ids) == list(issued.issued_credential_ids)
    assert by_request["run-1/deg"].kind == cpb.CREDENTIAL_KIND_ACHIEVEMENT
    reasons = {
        rid: by_request[rid].error.reason
        for rid in ("run-1/clr1-changed", "run-1/clr2", "run-1/clr3", "run-1/both")
    }
    assert reasons == {
        "run-1/clr1-changed": "RECORD_ID_CONFLICT",
        "run-1/clr2": "RECORD_NOT_ISSUED",
        "run-1/clr3": "INVALID_SPEC",
        "run-1/both": "AMBIGUOUS_REQUEST",
    }
    assert by_request["run-1/clr3"].error.field == "achievements[1].results[0].value"
    assert "'NOPE'" in by_request["run-1/clr2"].error.message
    assert all(
        by_request[rid].outcome == epb.ISSUANCE_REQUEST_OUTCOME_REJECTED
        and not by_request[rid].credential_id
        for rid in reasons
    )

    dlq = await read_topic(bus, dlq_topic(topic), 4)
    assert sorted(dict(r.headers)["ler_error"].decode().split(":")[0] for r in dlq) == sorted(
        reasons.values()
    )

    async with instance.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(credentials.c.record_id, credentials.c.credential_id, credentials.c.kind)
            )
        ).all()
    # the degree, the two courses and the CLR; nothing of CLR3 (not even its valid course C3)
    assert sorted(r.record_id for r in rows) == ["C1", "C2", "CLR1", "DEG"]
    ids = {r.record_id: r.credential_id for r in rows}
    assert issued.credential_id == ids["CLR1"]
    assert sorted(issued.issued_credential_ids) == sorted([ids["C1"], ids["C2"]])

    issued_events = await read_topic(bus, settings.issued_topic, 4)  # type: ignore[attr-defined]
    events = {
        e.record_id: e for e in (epb.CredentialIssued.FromString(r.value) for r in issued_events)
    }
    assert set(events) == {"DEG", "C1", "C2", "CLR1"}
    clr_event = events["CLR1"]
    assert clr_event.kind == cpb.CREDENTIAL_KIND_CLR
    document = json.loads(clr_event.signed_credential)
    assert "ClrCredential" in document["type"]
    embedded = document["credentialSubject"]["verifiableCredential"]
    assert {c["id"] for c in embedded} == {ids["DEG"], ids["C1"], ids["C2"]}
    assert document["proof"]["cryptosuite"] == "eddsa-jcs-2022"

    async def count() -> int:
        async with instance.runtime.engine.connect() as conn:
            return len((await conn.execute(select(credentials.c.record_id))).all())

    await poll_until(count, lambda n: n == 4, within=5, what="still four credentials")
