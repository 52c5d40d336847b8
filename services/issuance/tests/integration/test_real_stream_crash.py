"""Real PostgreSQL and Kafka, the service as a process: 5,000 streamed requests with duplicates
and malformed ones, a SIGKILL mid-stream and a restart — exactly one credential per distinct
valid record id, every one verifies, every malformed one is in the DLQ and reported back. Then
CLR 2.0 transcripts streamed on the same topic bundle some of those records: issued once,
replayed with the same credential, verified; an unresolvable one rejected."""

from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path

import aiohttp
import grpc
import pytest
from issuance_helpers import (
    OPERATOR_TOKEN,
    ServiceProcess,
    delete_run_topics,
    drop_schema,
    free_port,
    metadata_for,
    poll_until,
    read_topic_until,
    real_infra,
    request_record,
    run_names,
)
from ler.common.v1 import credential_pb2 as cpb
from ler.issuance.v1 import events_pb2 as epb
from ler.issuance.v1 import issuance_service_pb2 as pb
from ler.issuance.v1 import issuance_service_pb2_grpc as pb_grpc
from ler.issuance.v1 import resources_pb2 as rpb
from ler_crypto.did import DidResolver
from ler_crypto.verifier import verify_credential
from ler_platform.events.kafka import KafkaBus
from ler_platform.events.records import OutgoingRecord
from ler_platform.events.runner import dlq_topic
from ler_platform.kek import new_kek_value
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = [pytest.mark.real, pytest.mark.slow]
LER_CLI = str(Path(sys.executable).parent / "ler")
VALID, RESENT, REPLAYED, PER_MALFORMED_KIND = 4200, 200, 200, 100


def spec(record_id: str, *, grade: str = "B", subject: bool = True) -> rpb.CredentialSpec:
    return rpb.CredentialSpec(
        record_id=record_id,
        subject=rpb.Subject(did="did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
        if subject
        else rpb.Subject(),
        achievement=rpb.Achievement(
            id="https://trade.example/achievements/welding",
            name="Certified Welder",
            description="Structural welding certificate.",
            criteria_narrative="Pass the practical exam.",
            achievement_type=cpb.ACHIEVEMENT_TYPE_CERTIFICATE,
            result_descriptions=[
                rpb.ResultDescription(
                    id="grade",
                    name="Grade",
                    result_type=rpb.RESULT_TYPE_LETTER_GRADE,
                    allowed_values=["A", "B", "C"],
                )
            ],
        ),
        results=[rpb.Result(result_description_id="grade", value=grade)],
    )


def _requests(topic: str, iid: str) -> tuple[list[OutgoingRecord], set[str], set[str]]:
    valid = [request_record(topic, iid, spec(f"R{i:05d}")) for i in range(VALID)]
    rng = random.Random(4)
    resent = rng.sample(valid, RESENT)  # the same event again (a producer retry)
    replays = [  # the same record id in a new event (the institution sent it twice)
        request_record(topic, iid, spec(f"R{i:05d}")) for i in rng.sample(range(VALID), REPLAYED)
    ]
    garbage = [
        OutgoingRecord(topic, f"{iid}:G{i}".encode(), b"\x00not a protobuf" + bytes([i]), ())
        for i in range(PER_MALFORMED_KIND)
    ]
    no_subject = [
        request_record(topic, iid, spec(f"M{i}", subject=False)) for i in range(PER_MALFORMED_KIND)
    ]
    bad_grade = [
        request_record(topic, iid, spec(f"B{i}", grade="Z")) for i in range(PER_MALFORMED_KIND)
    ]
    wrong_key = [
        request_record(topic, iid, spec(f"Y{i}"), key=f"{iid}:X{i}")
        for i in range(PER_MALFORMED_KIND)
    ]
    records = [*valid, *resent, *replays, *garbage, *no_subject, *bad_grade, *wrong_key]
    rng.shuffle(records)
    malformed_keys = {r.key.decode() for r in (*garbage, *no_subject, *bad_grade, *wrong_key)}
    return records, {f"R{i:05d}" for i in range(VALID)}, malformed_keys


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


async def _alive(pids: list[int]) -> list[int]:
    return [p for p in pids if _state(p) not in ("gone", "Z")]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return "gone"


async def test_stream_of_5000_with_sigkill_issues_exactly_once(tmp_path: Path) -> None:
    pg_url, kafka = real_infra()
    names = run_names()
    http_port = free_port()
    grpc_port = free_port()
    env = {
        "LER_DATABASE_URL": pg_url,
        "LER_KAFKA_BOOTSTRAP_SERVERS": kafka,
        "LER_KAFKA_TOPIC_PARTITIONS": "3",
        "LER_GRPC_PORT": str(grpc_port),
        "LER_HTTP_PORT": str(http_port),
        "LER_PUBLIC_URL": f"http://127.0.0.1:{http_port}",
        "LER_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "LER_KEK": new_kek_value(),
        "LER_LOG_LEVEL": "WARNING",
        "LER_CONSUMER_RETRY_BACKOFF_SECONDS": "0.05",
        "LER_HEALTH_CHECK_INTERVAL_SECONDS": "0.5",
        # signing on worker processes, as the benchmark runs it: the kill takes them along
        "LER_SIGNING_WORKERS": "2",
        **{f"LER_{k.upper()}": v for k, v in names.items()},
    }
    service = ServiceProcess(env, tmp_path / "service.log")
    bus = KafkaBus(kafka, client_id="ler-test-producer")
    engine = create_async_engine(pg_url)
    schema = names["db_schema"]
    try:
        service.start()
        await service.wait_ready()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            registered = await pb_grpc.IssuanceServiceStub(channel).RegisterIssuer(
                pb.RegisterIssuerRequest(
                    name="Trade School",
                    url="https://trade.example",
                    did_method=rpb.DID_METHOD_KEY,
                    # rdfc: the suite the signing workers take (JCS is signed in-process)
                    default_cryptosuite=cpb.CRYPTOSUITE_EDDSA_RDFC_2022,
                ),
                metadata=metadata_for(OPERATOR_TOKEN),
            )
        iid = registered.issuer.issuer_id
        records, valid_ids, malformed_keys = _requests(names["requests_topic"], iid)
        assert len(records) == 5000

        async def issued_count() -> int:
            async with engine.connect() as conn:
                return int(
                    (
                        await conn.execute(
                            text(
                                f'SELECT count(*) FROM "{schema}".credentials WHERE issuer_id = :i'
                            ),
                            {"i": iid},
                        )
                    ).scalar_one()
                )

        await bus.start()
        half = len(records) // 2
        for start in range(0, half, 500):
            await bus.publish_batch(records[start : start + 500])
        # kill the service while it is working through the stream
        await poll_until(issued_count, lambda n: n >= 300, within=180, what="300 credentials")
        workers = _children(service.proc.pid)  # type: ignore[attr-defined]
        assert len(workers) >= 2, "the signing workers run as child processes"
        service.kill()
        killed_at = await issued_count()
        assert killed_at < VALID, "the kill must land mid-stream"
        # orphaned workers (holding decrypted keys) must not outlive the service
        await poll_until(
            lambda: _alive(workers), lambda alive: not alive, within=30, what="workers exit"
        )
        for start in range(half, len(records), 500):
            await bus.publish_batch(records[start : start + 500])
        service.start()
        await service.wait_ready()
        await poll_until(
            issued_count, lambda n: n >= VALID, within=600, what=f"{VALID} credentials"
        )

        async with engine.connect() as conn:
            total, distinct = (
                await conn.execute(
                    text(
                        f'SELECT count(*), count(DISTINCT record_id) FROM "{schema}".credentials'
                        " WHERE issuer_id = :i"
                    ),
                    {"i": iid},
                )
            ).one()
            rows = (
                await conn.execute(
                    text(f'SELECT record_id, signed_credential FROM "{schema}".credentials'),
                )
            ).all()
        assert (total, distinct) == (VALID, VALID)
        assert {r.record_id for r in rows} == valid_ids

        await _check_topics(bus, names, iid, valid_ids, malformed_keys)
        await _verify_all(rows, http_port, iid, tmp_path)
        await _stream_clrs(bus, names, iid, http_port)
        assert service.stop() == 0
    finally:
        service.stop()
        await bus.stop()
        await engine.dispose()
        await drop_schema(pg_url, schema)
        await delete_run_topics(kafka, names)


async def _check_topics(
    bus: KafkaBus, names: dict[str, str], iid: str, valid_ids: set[str], malformed_keys: set[str]
) -> None:
    """Every malformed request in the DLQ with a reason and reported back; every valid one
    reported issued and announced."""
    # at-least-once: the DLQ and the results may hold duplicates after the kill, so read
    # until every expected key is there rather than until a count
    dlq = await read_topic_until(
        bus,
        dlq_topic(names["requests_topic"]),
        lambda got: {r.key.decode() for r in got} >= malformed_keys,
    )
    dlq_reasons = {r.key.decode(): dict(r.headers)["ler_error"].decode() for r in dlq}
    assert set(dlq_reasons) == malformed_keys
    assert all(reason for reason in dlq_reasons.values())
    assert dlq_reasons[f"{iid}:G0"].startswith("MALFORMED_REQUEST")
    assert dlq_reasons[f"{iid}:M0"].startswith("INVALID_SPEC")
    assert "allowed values" in dlq_reasons[f"{iid}:B0"]
    assert dlq_reasons[f"{iid}:X0"].startswith("KEY_MISMATCH")

    expected_rejected = {
        f"{kind}{i}" for kind in ("G", "M", "B", "Y") for i in range(PER_MALFORMED_KIND)
    }

    def all_results(got: list) -> bool:  # type: ignore[type-arg]
        seen = {epb.IssuanceRequestResult.FromString(r.value).record_id for r in got}
        return seen >= valid_ids | expected_rejected

    results = await read_topic_until(bus, names["results_topic"], all_results)
    by_outcome: dict[int, set[str]] = {}
    for record in results:
        result = epb.IssuanceRequestResult.FromString(record.value)
        by_outcome.setdefault(result.outcome, set()).add(result.record_id)
        if result.outcome == epb.ISSUANCE_REQUEST_OUTCOME_REJECTED:
            assert result.error.reason and result.error.message
    rejected = by_outcome[epb.ISSUANCE_REQUEST_OUTCOME_REJECTED]
    # results name the request's record id (for the wrong-key ones: Y<i>, not the key's X<i>)
    assert expected_rejected <= rejected
    assert valid_ids <= by_outcome[epb.ISSUANCE_REQUEST_OUTCOME_ISSUED]
    assert not valid_ids & rejected

    issued_events = await read_topic_until(
        bus,
        names["issued_topic"],
        lambda got: len({r.key for r in got}) >= VALID,
    )
    assert {epb.CredentialIssued.FromString(r.value).record_id for r in issued_events} == (
        valid_ids
    )


def _clr_record(topic: str, iid: str, request_id: str, clr: epb.ClrSpec) -> OutgoingRecord:
    from ler_platform.events.envelope import Event

    message = epb.IssuanceRequested(issuer_id=iid, request_id=request_id, clr=clr)
    return Event(key=f"{iid}:{clr.record_id}", message=message, source="urn:test:sis").to_record(
        topic
    )


async def _stream_clrs(bus: KafkaBus, names: dict[str, str], iid: str, http_port: int) -> None:
    """A transcript bundling two streamed records plus a new graded achievement: issued once
    (its resend replays the same credential), announced, and it verifies; one naming an
    unknown record is rejected with the reason, by request id."""
    transcript = epb.ClrSpec(
        record_id="CLR-1",
        subject=spec("x").subject,
        name="Transcript",
        credential_record_ids=["R00000", "R00001"],
        achievements=[
            pb.ClrAchievement(
                record_id="CLR-1-C1",
                achievement=spec("x").achievement,
                results=[rpb.Result(result_description_id="grade", value="A")],
            )
        ],
    )
    unknown = epb.ClrSpec(
        record_id="CLR-2", subject=transcript.subject, name="T", credential_record_ids=["NOPE"]
    )
    topic = names["requests_topic"]
    await bus.publish_batch(
        [
            _clr_record(topic, iid, "clr-first", transcript),
            _clr_record(topic, iid, "clr-again", transcript),
            _clr_record(topic, iid, "clr-unknown", unknown),
        ]
    )
    wanted = {"clr-first", "clr-again", "clr-unknown"}

    def decoded(got: list) -> dict[str, epb.IssuanceRequestResult]:  # type: ignore[type-arg]
        out = {}
        for r in got:
            result = epb.IssuanceRequestResult.FromString(r.value)
            if result.request_id in wanted:
                out[result.request_id] = result
        return out

    got = await read_topic_until(
        bus, names["results_topic"], lambda got: set(decoded(got)) == wanted
    )
    results = decoded(got)
    first, again = results["clr-first"], results["clr-again"]
    assert first.outcome == epb.ISSUANCE_REQUEST_OUTCOME_ISSUED
    assert first.kind == cpb.CREDENTIAL_KIND_CLR and len(first.issued_credential_ids) == 1
    assert again.outcome == epb.ISSUANCE_REQUEST_OUTCOME_REPLAYED
    assert again.credential_id == first.credential_id
    assert results["clr-unknown"].error.reason == "RECORD_NOT_ISSUED"
    dlq = await read_topic_until(
        bus, dlq_topic(topic), lambda got: f"{iid}:CLR-2".encode() in {r.key for r in got}
    )
    assert any(dict(r.headers)["ler_error"].startswith(b"RECORD_NOT_ISSUED") for r in dlq)

    issued = await read_topic_until(
        bus,
        names["issued_topic"],
        lambda got: first.credential_id.encode() in {r.key for r in got},
    )
    event = next(
        e
        for e in (epb.CredentialIssued.FromString(r.value) for r in issued)
        if e.credential_id == first.credential_id
    )
    document = json.loads(event.signed_credential)
    assert len(document["credentialSubject"]["verifiableCredential"]) == 3
    lists: dict[str, bytes] = {}
    async with aiohttp.ClientSession() as http:
        for purpose in ("revocation", "suspension"):
            url = f"http://127.0.0.1:{http_port}/issuers/{iid}/status-lists/{purpose}-1"
            async with http.get(url) as response:
                lists[url] = await response.read()

    class Lists:
        async def fetch(self, url: str) -> bytes:
            return lists[url]

    report = await verify_credential(
        document, resolver=DidResolver(None, offline=True), status_fetcher=Lists()
    )
    assert report.verified, report.failures()


async def _verify_all(rows: list, http_port: int, iid: str, tmp_path: Path) -> None:  # type: ignore[type-arg]
    """Every credential verifies in process, and a sample with the ``ler vc verify`` CLI."""
    # every credential verifies (did:key issuer: offline, status lists from the service)
    lists: dict[str, bytes] = {}
    async with aiohttp.ClientSession() as http:
        for purpose in ("revocation", "suspension"):
            url = f"http://127.0.0.1:{http_port}/issuers/{iid}/status-lists/{purpose}-1"
            async with http.get(url) as response:
                assert response.status == 200
                lists[url] = await response.read()

    class Lists:
        async def fetch(self, url: str) -> bytes:
            return lists[url]

    resolver = DidResolver(None, offline=True)
    failures = []
    for row in rows:
        report = await verify_credential(
            json.loads(row.signed_credential), resolver=resolver, status_fetcher=Lists()
        )
        if not report.verified:
            failures.append((row.record_id, report.failures()))
    assert failures == []
    # and a sample through the `ler vc verify` command line
    for i, path in enumerate(lists):
        (tmp_path / f"list{i}.json").write_bytes(lists[path])
    for row in random.Random(7).sample(rows, 3):
        (tmp_path / "vc.json").write_bytes(row.signed_credential)
        cli = await asyncio.create_subprocess_exec(
            LER_CLI,
            "vc",
            "verify",
            str(tmp_path / "vc.json"),
            "--offline",
            "--status-list",
            str(tmp_path / "list0.json"),
            "--status-list",
            str(tmp_path / "list1.json"),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(cli.communicate(), 120)
        assert cli.returncode == 0, out[-2000:]
