"""Issue 8's telemetry proof, on the real stack (DESIGN.md "Observability").

The four services run as processes on the real PostgreSQL and Kafka, each exporting OTLP to a
receiver this test runs (``otlp_receiver.py``) and serving ``/metrics``; the journey driver
runs here, exporting its root span ``ler.journey`` to the same receiver. One learner journey
(issuance request → credential issued → wallet delivery → application → verification, then a
revocation) must:

* form ONE trace with spans from all four services, gRPC client/server pairs, the Kafka hops
  as parent (or linked) spans, and SQL spans — and nothing of the run outside that trace;
* carry ``service.version`` on every service's resource and the tenant where designed
  (``ler.tenant.id`` for organisations, only ``ler.tenant.kind`` for a learner);
* carry no personal data or credential contents in any span attribute;
* move the counters on every service's ``/metrics``;
* leave JSON log lines only, trace-correlated, with no secrets and no credential bodies.

One scenario for all of it: the stack takes a while to start, and CI time is counted.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from ler_cli.journey import run_journey
from ler_cli.journey.story import LEARNER
from ler_platform.kek import new_kek_value
from ler_platform.tracing import sdk_tracer_provider
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from otlp_receiver import OtlpReceiver, ReceivedSpan
from prometheus_client.parser import text_string_to_metric_families
from real_stack import RunningStack, infra, start_real_stack
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = [pytest.mark.real, pytest.mark.slow]

SERVICES = ("issuance", "wallet", "verification", "intake")
HEALTH = "grpc.health.v1.Health"
SPAN_WAIT_SECONDS = 40.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- metrics ---------------------------------------------------------------------------


async def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a service's ``/metrics``, keyed by (sample name, sorted labels)."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        body = await response.text()
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _total(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    """Sum of ``name`` over the samples whose labels include ``labels``."""
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


# --- spans -----------------------------------------------------------------------------


def _values(value: Any) -> Iterator[str]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _values(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _values(item)
    elif value is not None:
        yield str(value)


def _attribute_values(span: ReceivedSpan) -> Iterator[tuple[str, str]]:
    for key, value in span.attributes.items():
        for text_value in _values(value):
            yield key, text_value
    for event in span.events:
        for key, value in event.items():
            for text_value in _values(value):
                yield f"event.{key}", text_value


def _run_spans(spans: list[ReceivedSpan], running: RunningStack) -> list[ReceivedSpan]:
    """The spans caused by this run: calls to our services (not health checks) and work on this
    run's topics. (Verification also listens to the shared default status topic, so other
    runs' events may show up there in their own traces.)"""
    topics = set(running.topics.values())
    ours = []
    for span in spans:
        destination = span.attributes.get("messaging.destination.name")
        if destination is not None:
            if destination in topics:
                ours.append(span)
        elif span.kind in ("SERVER", "CLIENT") and span.attributes.get("rpc.system") == "grpc":
            if span.attributes.get("rpc.service") != HEALTH:
                ours.append(span)
    return ours


async def _sensitive_values(running: RunningStack) -> dict[str, str]:
    """What must never appear in telemetry: the learner's name and e-mail, the subject ids and
    claims of every credential issued in this run, and every proof value (read from issuance's
    own database, i.e. the signed bytes as they were issued)."""
    dsn, _kafka = infra()
    engine = create_async_engine(f"{dsn}/{running.databases['issuance']}")
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT signed_credential FROM credentials"))).all()
    finally:
        await engine.dispose()
    assert len(rows) >= 8, "the journey issues a degree, a transcript and six badges"
    found = {"learner name": LEARNER[0], "learner e-mail": LEARNER[1]}
    for (signed,) in rows:
        credential = json.loads(bytes(signed))
        proofs = (
            credential["proof"] if isinstance(credential["proof"], list) else [credential["proof"]]
        )
        for proof in proofs:
            found[f"proofValue of {credential['id']}"] = proof["proofValue"]
        subject = credential["credentialSubject"]
        if subject.get("id"):
            found["credential subject id"] = subject["id"]
        identifier = subject.get("identifier")
        for entry in identifier if isinstance(identifier, list) else []:
            if isinstance(entry, dict) and len(str(entry.get("identityHash", ""))) > 8:
                found["subject identityHash"] = entry["identityHash"]
    return found


# --- logs ------------------------------------------------------------------------------


_BODY_MARKERS = ("proofValue", "credentialSubject", "-----BEGIN", "PRIVATE KEY")


def _log_lines(path: Path) -> list[dict[str, Any]]:
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"{path.name}:{number} is not a JSON line: {line[:200]!r}")
        assert isinstance(entry, dict), f"{path.name}:{number} is not a JSON object"
        for key in ("ts", "level", "logger", "msg"):
            assert key in entry, f"{path.name}:{number} lacks {key!r}: {line[:200]}"
        entries.append(entry)
    return entries


# --- the scenario ----------------------------------------------------------------------


def _install_local_exporter(endpoint: str) -> BatchSpanProcessor:
    """The journey driver runs in this process: send its spans (root ``ler.journey``, its
    gRPC client and Kafka producer spans) to the receiver too."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        trace.set_tracer_provider(sdk_tracer_provider("ler-journey"))
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    processor = BatchSpanProcessor(
        OTLPSpanExporter(endpoint=endpoint, insecure=True), schedule_delay_millis=200
    )
    provider.add_span_processor(processor)
    return processor


def _check_one_trace(
    spans: list[ReceivedSpan], running: RunningStack, trace_id: str
) -> list[ReceivedSpan]:
    """One trace, rooted at ``ler.journey``, with every service, nothing of the run outside
    it, gRPC client/server pairs, Kafka hops joined, SQL spans. Returns the trace's spans."""
    journey = [s for s in spans if s.trace_id == trace_id]
    by_id = {s.span_id: s for s in journey}
    (root,) = [s for s in journey if s.name == "ler.journey"]
    assert root.parent_span_id == ""
    services_in_trace = {s.service for s in journey}
    assert {f"ler-{name}" for name in SERVICES} <= services_in_trace, services_in_trace
    strays = [
        (s.service, s.name, s.kind) for s in _run_spans(spans, running) if s.trace_id != trace_id
    ]
    assert strays == [], f"spans of this run outside the journey's trace: {strays[:10]}"
    # every span hangs off the root: its parent is in the trace (no orphaned sub-trees)
    orphans = [
        (s.service, s.name) for s in journey if s is not root and s.parent_span_id not in by_id
    ]
    assert orphans == [], orphans

    def kinds(service: str, kind: str) -> list[ReceivedSpan]:
        return [s for s in journey if s.service == f"ler-{service}" and s.kind == kind]

    # gRPC: every service served calls in the trace; intake's call to verification is a
    # CLIENT span whose SERVER side is verification's
    for name in SERVICES:
        assert kinds(name, "SERVER"), f"no gRPC SERVER span from ler-{name}"
    intake_clients = {
        s.span_id for s in kinds("intake", "CLIENT") if s.attributes.get("rpc.system") == "grpc"
    }
    assert intake_clients, "intake's calls to verification have no CLIENT span"
    assert any(s.parent_span_id in intake_clients for s in kinds("verification", "SERVER"))

    # Kafka: the journey's issuance requests into issuance, issuance's issued events into the
    # wallet, its status events into intake — each as parent/child or linked spans
    requests = running.topics["requests"]
    (request_producer,) = {
        s.service
        for s in journey
        if s.kind == "PRODUCER" and s.attributes.get("messaging.destination.name") == requests
    }
    _check_hop(journey, requests, request_producer, "ler-issuance")
    _check_hop(journey, running.topics["issued"], "ler-issuance", "ler-wallet")
    _check_hop(journey, running.topics["status"], "ler-issuance", "ler-intake")

    # SQL: each service's statements are spans of the journey, on PostgreSQL
    for name in SERVICES:
        sql = [s for s in kinds(name, "CLIENT") if "db.operation.name" in s.attributes]
        assert sql, f"no SQL spans from ler-{name}"
        assert {s.attributes["db.system.name"] for s in sql} == {"postgresql"}
    return journey


def _check_hop(journey: list[ReceivedSpan], topic: str, producer: str, consumer: str) -> None:
    """``consumer``'s CONSUMER spans on ``topic`` are children of, or linked to, a PRODUCER
    span of ``producer`` (W3C ``traceparent`` in the record headers)."""

    def on_topic(kind: str, service: str) -> list[ReceivedSpan]:
        return [
            s
            for s in journey
            if s.kind == kind
            and s.service == service
            and s.attributes.get("messaging.destination.name") == topic
        ]

    producer_ids = {s.span_id for s in on_topic("PRODUCER", producer)}
    consumers = on_topic("CONSUMER", consumer)
    assert producer_ids, f"no PRODUCER span for {topic} from {producer}"
    assert consumers, f"no CONSUMER span for {topic} from {consumer}"
    for span in consumers:
        linked = {span_id for _trace, span_id in span.links}
        assert span.parent_span_id in producer_ids or linked & producer_ids, (
            f"{consumer}'s {span.name} is neither child of nor linked to {producer}'s publish"
        )


def _check_attributes(
    journey: list[ReceivedSpan], spans: list[ReceivedSpan], forbidden: dict[str, str]
) -> None:
    """``service.version`` on every resource; tenants where designed; and no personal data,
    credential contents or secrets in any attribute of any span received."""
    for name in SERVICES:
        versions = {
            s.resource.get("service.version") for s in journey if s.service == f"ler-{name}"
        }
        assert versions == {metadata.version(f"ler-{name}")}, (name, versions)
    for service in ("ler-issuance", "ler-intake"):  # organisations are named
        tenants = {s.attributes.get("ler.tenant.id") for s in journey if s.service == service}
        assert tenants - {None}, f"{service} spans carry no ler.tenant.id"
    holder = [
        s
        for s in journey
        if s.service == "ler-wallet" and s.attributes.get("ler.tenant.kind") == "holder"
    ]
    assert holder, "wallet spans carry no ler.tenant.kind"
    # a learner's account id is personal data: only the kind is recorded
    assert all("ler.tenant.id" not in s.attributes for s in holder)

    leaks = [
        (span.service, span.name, key, label)
        for span in spans
        for key, value in _attribute_values(span)
        for label, needle in forbidden.items()
        if needle and needle in value
    ]
    assert leaks == [], f"sensitive values in span attributes: {leaks[:10]}"
    bodies = [
        (span.service, span.name, key)
        for span in spans
        for key, value in _attribute_values(span)
        if any(marker in value for marker in _BODY_MARKERS)
    ]
    assert bodies == [], f"credential bodies in span attributes: {bodies[:10]}"


Samples = dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]


def _check_metrics(
    before: Samples, after: Samples, running: RunningStack, issued: dict[str, int]
) -> None:
    """The counters of every service moved with the journey."""

    def moved(service: str, name: str, at_least: float = 1, **labels: str) -> None:
        delta = _total(after[service], name, **labels) - _total(before[service], name, **labels)
        assert delta >= at_least, f"{service}: {name}{labels or ''} moved by {delta}"

    for name in SERVICES:
        moved(name, "ler_grpc_server_requests_total")
        moved(name, "ler_grpc_server_duration_seconds_count")
        moved(name, "ler_outbox_published_total")
        # nothing in the journey is the server's fault
        errors = "ler_grpc_server_errors_total"
        assert _total(after[name], errors) == _total(before[name], errors), name
    moved("issuance", "ler_kafka_consumer_messages_total", topic=running.topics["requests"])
    moved("wallet", "ler_kafka_consumer_messages_total", topic=running.topics["issued"])
    moved("intake", "ler_kafka_consumer_messages_total", topic=running.topics["status"])
    count = sum(issued.values())
    moved("issuance", "ler_outbox_published_total", count, topic=running.topics["issued"])
    moved("issuance", "ler_credentials_issued_total", count)
    moved("issuance", "ler_credentials_revoked_total")
    moved("verification", "ler_credentials_verified_total")


def _check_logs(
    running: RunningStack,
    secrets_in_play: dict[str, str],
    proof_values: list[str],
    journey: list[ReceivedSpan],
) -> None:
    """JSON lines only; trace-correlated lines point at the journey's spans; no secrets, no
    proof values, no credential bodies."""
    trace_id = journey[0].trace_id
    span_ids = {s.span_id for s in journey}
    journey_lines = 0
    for name, service in running.services.items():
        log_text = service.log_path.read_text()
        for label, secret in secrets_in_play.items():
            assert secret not in log_text, f"{name}'s log contains the {label}"
        assert not [p for p in proof_values if p in log_text], f"{name}'s log holds a proof"
        for marker in _BODY_MARKERS:
            assert marker not in log_text, f"{name}'s log contains {marker!r}"
        entries = _log_lines(service.log_path)
        assert any(e.get("service") == name for e in entries), f"{name}: no line names it"
        for entry in entries:
            if "trace_id" not in entry:
                continue
            assert re.fullmatch(r"[0-9a-f]{32}", entry["trace_id"]), entry
            assert re.fullmatch(r"[0-9a-f]{16}", entry.get("span_id", "")), entry
            if entry["trace_id"] == trace_id:
                journey_lines += 1
                assert entry["span_id"] in span_ids, entry  # logged inside a journey span
    assert journey_lines >= 1, "no service logged a line inside the journey's requests"


async def test_one_journey_is_one_trace_moves_metrics_and_logs_json(tmp_path: Path) -> None:
    receiver = OtlpReceiver().start()
    processor = _install_local_exporter(receiver.endpoint)
    metrics_ports = {name: _free_port() for name in SERVICES}
    keks = {"issuance": new_kek_value(), "wallet": new_kek_value()}
    extra_env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms: spans reach the receiver soon after they end
        "LER_METRICS_HOST": "127.0.0.1",
    }
    env_per_service: dict[str, dict[str, str]] = {
        name: {"LER_METRICS_PORT": str(port)} for name, port in metrics_ports.items()
    }
    for name, kek in keks.items():
        env_per_service[name]["LER_KEK"] = kek

    try:
        async with start_real_stack(
            tmp_path, extra_env=extra_env, env_per_service=env_per_service
        ) as running:
            before = {n: await _scrape(p) for n, p in metrics_ports.items()}
            result = await run_journey(running.stack)
            assert result.ok, [s.to_dict() for s in result.steps if not s.ok]
            trace_id = result.trace_id
            expected = {f"ler-{name}" for name in SERVICES}

            def complete(spans: list[ReceivedSpan]) -> bool:
                ours = [s for s in spans if s.trace_id == trace_id]
                return expected <= {s.service for s in ours} and any(
                    s.name == "ler.journey" for s in ours
                )

            await asyncio.to_thread(receiver.wait_for, complete, timeout=SPAN_WAIT_SECONDS)
            after = {n: await _scrape(p) for n, p in metrics_ports.items()}
            secrets_in_play = {
                "issuance operator token": running.stack.issuance_operator_token,
                "intake operator key": running.stack.intake_operator_key,
                "intake client key": running.stack.intake_client_key,
                **{f"{name} KEK": kek for name, kek in keks.items()},
            }
            sensitive = await _sensitive_values(running)
        # the services flushed their remaining spans at shutdown (the stack is stopped now)
        spans = receiver.spans()
    finally:
        processor.shutdown()
        receiver.stop()

    journey = _check_one_trace(spans, running, trace_id)
    _check_attributes(journey, spans, {**sensitive, **secrets_in_play})
    _check_metrics(before, after, running, result.summary["issued"])
    proofs = [v for k, v in sensitive.items() if k.startswith("proofValue")]
    _check_logs(running, secrets_in_play, proofs, journey)
