"""Builders of test specs and achievements."""

from __future__ import annotations

from ler_issuance.domain.model import (
    Achievement,
    Alignment,
    CredentialSpec,
    Cryptosuite,
    Result,
    ResultDescription,
    Subject,
)

PYTHON = Alignment(
    url="https://example.org/skills/python",
    label="Python",
    framework="Example Skills",
    code="PY-1",
)


def achievement(name: str = "Intro to Programming", **kw: object) -> Achievement:
    """A course with a letter-grade result description and one skill alignment."""
    base: dict[str, object] = {
        "id": "",
        "name": name,
        "description": "A first course in programming.",
        "achievement_type": "Course",
        "criteria_narrative": "Pass the final exam.",
        "alignments": (PYTHON,),
        "result_descriptions": (
            ResultDescription(
                id="grade",
                name="Final grade",
                result_type="LetterGrade",
                allowed_values=("A", "B", "C", "D", "F"),
            ),
        ),
    }
    base.update(kw)
    return Achievement(**base)  # type: ignore[arg-type]


def spec(record_id: str, **kw: object) -> CredentialSpec:
    """An inline-achievement spec for a learner with a did:key."""
    base: dict[str, object] = {
        "record_id": record_id,
        "subject": Subject(did="did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"),
        "achievement": achievement(),
        "results": (Result(result_description_id="grade", value="A"),),
    }
    base.update(kw)
    return CredentialSpec(**base)  # type: ignore[arg-type]


JCS = Cryptosuite.EDDSA_JCS_2022


class StoreWebFetcher:
    """A did:web fetcher answering from the fake store: ``.../issuers/<id>/did.json``."""

    def __init__(self, store: object) -> None:
        self._store = store

    async def fetch(self, url: str) -> bytes:
        import json

        parts = url.split("/")
        issuer = self._store.issuers[parts[-2]]  # type: ignore[attr-defined]
        return json.dumps(issuer.did_document()).encode()


class StoreStatusFetcher:
    """A status list fetcher answering from the fake store's signed list credentials, and
    (given ``ctx``) with Status List Tokens signed from them as the HTTP endpoint does."""

    def __init__(self, store: object, ctx: object = None) -> None:
        from ler_issuance.service_layer.status_tokens import StatusListTokens

        self._store = store
        self.tokens = StatusListTokens(ctx, ttl=60) if ctx is not None else None  # type: ignore[arg-type]

    async def fetch(self, url: str) -> bytes:
        parts = url.split("/")
        if parts[-1] == "token":
            if self.tokens is None:
                raise LookupError(f"no context to sign the token at {url}")
            return (await self.tokens.get(parts[-4], parts[-2])).token.encode()
        state = self._store.status_lists[(parts[-3], parts[-1])]  # type: ignore[attr-defined]
        return bytes(state.signed_credential)


async def verify_from_store(store: object, signed: bytes, ctx: object = None):  # type: ignore[no-untyped-def]
    """Verify a credential with DIDs and status lists (and, given ``ctx``, Status List Tokens)
    served from the fake store."""
    import json

    from ler_crypto.did import DidResolver
    from ler_crypto.verifier import verify_credential

    document = json.loads(signed) if signed[:1] == b"{" else signed.decode()
    return await verify_credential(
        document,
        resolver=DidResolver(StoreWebFetcher(store)),
        status_fetcher=StoreStatusFetcher(store, ctx),
    )


def free_port() -> int:
    """A TCP port free right now on loopback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


OPERATOR_TOKEN = "operator-token-for-tests-0123456789"


def service_settings(database_url: str, **extra: object):  # type: ignore[no-untyped-def]
    """Settings of a test instance: own ports, an operator token and a fresh KEK."""
    from ler_issuance.settings import IssuanceSettings
    from ler_platform.kek import new_kek_value

    http_port = free_port()
    values: dict[str, object] = {
        "database_url": database_url,
        "grpc_port": 0,
        "http_port": http_port,
        "public_url": f"http://127.0.0.1:{http_port}",
        "operator_token": OPERATOR_TOKEN,
        "kek": new_kek_value(),
        "health_check_interval_seconds": 0.2,
        "outbox_poll_interval_seconds": 0.05,
    }
    values.update(extra)
    return IssuanceSettings(**values)  # type: ignore[arg-type]


def metadata_for(token: str) -> tuple[tuple[str, str], ...]:
    """gRPC call metadata with a bearer token."""
    return (("authorization", f"Bearer {token}"),)


class LoopbackWebFetcher:
    """did:web fetcher for tests: the service's https:// did:web URLs fetched over http://."""

    async def fetch(self, url: str) -> bytes:
        import aiohttp

        plain = url.replace("https://", "http://", 1)
        async with aiohttp.ClientSession() as session, session.get(plain) as response:
            if response.status != 200:
                from ler_crypto.errors import ResolutionError

                raise ResolutionError(f"{plain} answered {response.status}")
            return await response.read()


class HttpStatusFetcher:
    """Status list fetcher over plain HTTP (loopback test servers)."""

    async def fetch(self, url: str) -> bytes:
        import aiohttp

        async with aiohttp.ClientSession() as session, session.get(url) as response:
            response.raise_for_status()
            return await response.read()


async def verify_over_http(signed: bytes):  # type: ignore[no-untyped-def]
    """Verify with did:web documents and status lists fetched from the running service."""
    import json

    from ler_crypto.did import DidResolver
    from ler_crypto.verifier import verify_credential

    document = json.loads(signed) if signed[:1] == b"{" else signed.decode()  # or an SD-JWT
    return await verify_credential(
        document,
        resolver=DidResolver(LoopbackWebFetcher()),
        status_fetcher=HttpStatusFetcher(),
    )


async def poll_until(probe, done, *, within: float, what: str):  # type: ignore[no-untyped-def]
    """Call ``probe`` until ``done(result)``; fail (never skip) after ``within`` seconds."""
    import asyncio
    import time

    import pytest

    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {what}; last: {result!r}"[:2000])
        await asyncio.sleep(0.1)


async def read_topic(bus, topic: str, count: int, *, within: float = 60.0):  # type: ignore[no-untyped-def]
    """Read at least ``count`` records of ``topic`` with a fresh consumer group."""
    import time
    import uuid

    import pytest

    consumer = bus.consumer([topic], f"test-{uuid.uuid4().hex[:8]}", max_records=1000)
    await consumer.start()
    got = []
    deadline = time.monotonic() + within
    try:
        while len(got) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"read {len(got)} of {count} records of {topic} within {within}s")
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            for batch in batches.values():
                got.extend(batch)
        # anything more that is already there (duplicates) is read too
        batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
        for batch in batches.values():
            got.extend(batch)
    finally:
        await consumer.stop()
    return got


def request_record(topic: str, issuer_id: str, spec_pb, *, key: str | None = None, event_id=None):  # type: ignore[no-untyped-def]
    """An IssuanceRequested record as an institution's system would publish it."""
    from ler.issuance.v1.events_pb2 import IssuanceRequested
    from ler_platform.events.envelope import Event

    message = IssuanceRequested(issuer_id=issuer_id, spec=spec_pb)
    record_key = key if key is not None else f"{issuer_id}:{spec_pb.record_id}"
    extra = {"id": event_id} if event_id else {}
    return Event(key=record_key, message=message, source="urn:test:sis", **extra).to_record(topic)


# --- real servers -------------------------------------------------------------------------------

REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[3]
INFRA_ENV = REPO_ROOT / "var" / "infra.env"


def real_infra() -> tuple[str, str]:
    """(PostgreSQL URL of ler_test, Kafka bootstrap) — FAILS, never skips, when absent."""
    import pytest
    from ler_platform.local_infra import LocalInfraMissing, find_local_infra

    try:
        found = find_local_infra(INFRA_ENV)
    except LocalInfraMissing as err:
        pytest.fail(f"real-server test: {err}")
    return found.pg_url("ler_test"), found.kafka


def run_names() -> dict[str, str]:
    """Schema, topics and consumer group unique to one test run."""
    import uuid

    run = uuid.uuid4().hex[:10]
    return {
        "db_schema": f"iss_{run}",
        "requests_topic": f"ler.issuance.requests.v1.t{run}",
        "results_topic": f"ler.issuance.results.v1.t{run}",
        "issued_topic": f"ler.credentials.issued.v1.t{run}",
        "status_topic": f"ler.credentials.status.v1.t{run}",
        "consumer_group": f"ler.issuance.t{run}",
    }


RUN_TOPICS = ("requests_topic", "results_topic", "issued_topic", "status_topic")


async def delete_run_topics(kafka: str, names: dict[str, str], *, within: float = 20.0) -> None:
    """Delete a test run's own topics (``run_names``) and those derived from them
    (``<topic>.dlq``), bounded in time: per-run topics left behind pile up as partitions on
    the shared broker and slow every later run."""
    from ler_platform.topics import delete_topics_named

    await delete_topics_named(kafka, [names[k] for k in RUN_TOPICS], within=within)


async def drop_schema(pg_url: str, schema: str) -> None:
    """Remove a test run's schema."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()


class ServiceProcess:
    """The issuance service as an OS process (``python -m ler_issuance``), killable."""

    def __init__(self, env: dict[str, str], log_path: object) -> None:
        self._env = env
        self._log_path = log_path
        self.proc = None

    def start(self) -> None:
        import os
        import subprocess
        import sys

        log = open(self._log_path, "ab")  # the child keeps it; closed when this object goes
        self.proc = subprocess.Popen(  # type: ignore[assignment]
            [sys.executable, "-m", "ler_issuance"],
            env={**os.environ, **self._env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    async def wait_ready(self, within: float = 90.0) -> None:
        import aiohttp

        url = f"http://127.0.0.1:{self._env['LER_HTTP_PORT']}/readyz"

        async def probe() -> int:
            if self.proc is not None and self.proc.poll() is not None:  # type: ignore[attr-defined]
                import pytest

                pytest.fail(f"service exited with {self.proc.returncode}; see {self._log_path}")  # type: ignore[attr-defined]
            try:
                async with aiohttp.ClientSession() as http, http.get(url) as response:
                    return response.status
            except aiohttp.ClientError:
                return 0

        await poll_until(probe, lambda s: s == 200, within=within, what="service readiness")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        import signal

        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)  # type: ignore[attr-defined]
            self.proc.wait(timeout=30)  # type: ignore[attr-defined]

    def stop(self) -> int | None:
        """SIGTERM and wait for the graceful shutdown."""
        import signal
        import subprocess

        if self.proc is None or self.proc.poll() is not None:  # type: ignore[attr-defined]
            return None if self.proc is None else self.proc.returncode  # type: ignore[attr-defined]
        self.proc.send_signal(signal.SIGTERM)  # type: ignore[attr-defined]
        try:
            return int(self.proc.wait(timeout=60))  # type: ignore[attr-defined]
        except subprocess.TimeoutExpired:
            self.proc.kill()  # type: ignore[attr-defined]
            return None


async def read_topic_until(bus, topic: str, done, *, within: float = 120.0):  # type: ignore[no-untyped-def]
    """Read ``topic`` with a fresh group until ``done(records so far)``; fail after ``within``.

    For topics that may hold duplicates (at-least-once), where a count says too little.
    """
    import time
    import uuid

    import pytest

    consumer = bus.consumer([topic], f"test-{uuid.uuid4().hex[:8]}", max_records=1000)
    await consumer.start()
    got: list = []
    deadline = time.monotonic() + within
    try:
        while not done(got):
            if time.monotonic() > deadline:
                pytest.fail(f"{topic}: condition not met within {within}s ({len(got)} records)")
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            for batch in batches.values():
                got.extend(batch)
    finally:
        await consumer.stop()
    return got
