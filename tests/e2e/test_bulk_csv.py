"""Bulk issuance of a 10,000-row CSV export with 3% bad rows, on the real stack.

The issuance service runs as its own process (``python -m ler_issuance``) on a fresh PostgreSQL
database and Kafka topics unique to this run; ``ler institution bulk-issue`` runs as its own
process too, exactly as an institution's operator would run it. Checked: every good row issued
exactly once (counted in the service's database), every bad row reported with its reason
(client side: never sent; service side: rejected), and a re-run issues nothing new.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]
from ler_platform.kek import new_kek_value
from ler_platform.local_infra import KAFKA_KEY, PG_KEY, LocalInfraMissing, find_local_infra

pytestmark = [pytest.mark.real, pytest.mark.slow, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
ROWS = 10_000
BAD_CLIENT = 150  # malformed: refused by the command, never sent
BAD_SERVICE = 150  # well-formed, but the service rejects them
OPERATOR_TOKEN = "bulk-csv-operator-token-" + uuid.uuid4().hex


def _infra() -> dict[str, str]:
    """LER_TEST_PG_DSN and LER_TEST_KAFKA from the environment or var/infra.env; FAILS (never
    skips) when absent: run `make infra`."""
    try:
        found = find_local_infra(REPO / "var" / "infra.env")
    except LocalInfraMissing as err:
        pytest.fail(f"real-server test: {err}")
    return {PG_KEY: found.pg_dsn, KAFKA_KEY: found.kafka}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Issuance:
    """The running service: its gRPC address, database URL (plain asyncpg) and topics."""

    grpc_addr: str
    database: str
    kafka: str
    requests_topic: str
    results_topic: str
    log: Path


@pytest.fixture
async def issuance(tmp_path: Path) -> AsyncIterator[Issuance]:
    infra = _infra()
    dsn = infra["LER_TEST_PG_DSN"].rstrip("/")
    plain = dsn.replace("postgresql+asyncpg://", "postgresql://")
    run = uuid.uuid4().hex[:10]
    name = f"ler_bulk_{run}"
    admin = await asyncpg.connect(f"{plain}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    grpc_port = _free_port()
    http_port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LER_")}
    env.update(
        {
            "LER_DATABASE_URL": f"{dsn}/{name}",
            "LER_KAFKA_BOOTSTRAP_SERVERS": infra["LER_TEST_KAFKA"],
            "LER_GRPC_HOST": "127.0.0.1",
            "LER_GRPC_PORT": str(grpc_port),
            "LER_HTTP_HOST": "127.0.0.1",
            "LER_HTTP_PORT": str(http_port),
            "LER_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "LER_KEK": new_kek_value(),
            "LER_REQUESTS_TOPIC": f"ler.issuance.requests.v1.bulk{run}",
            "LER_RESULTS_TOPIC": f"ler.issuance.results.v1.bulk{run}",
            "LER_ISSUED_TOPIC": f"ler.credentials.issued.v1.bulk{run}",
            "LER_STATUS_TOPIC": f"ler.credentials.status.v1.bulk{run}",
            "LER_CONSUMER_GROUP": f"ler.issuance.bulk{run}",
        }
    )
    log = tmp_path / "issuance.log"
    proc = _start_service(env, log)
    try:
        await _wait_serving(f"127.0.0.1:{grpc_port}", proc, log)
        yield Issuance(
            f"127.0.0.1:{grpc_port}",
            f"{plain}/{name}",
            infra["LER_TEST_KAFKA"],
            env["LER_REQUESTS_TOPIC"],
            env["LER_RESULTS_TOPIC"],
            log,
        )
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _start_service(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m ler_issuance`` with its output in ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ler_issuance"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


def _report_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


async def _wait_serving(addr: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"ler_issuance exited with {proc.returncode}: {_tail(log)}")
        async with grpc.aio.insecure_channel(addr) as channel:
            try:
                answer = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=1
                )
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
        await asyncio.sleep(0.3)
    pytest.fail(f"ler_issuance not SERVING within 90 s: {_tail(log)}")


def ler(*argv: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``ler *argv`` as its own process (the console script's module)."""
    return subprocess.run(
        [sys.executable, "-m", "ler_cli.main", *argv],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("LER_")}, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class Bad:
    """A bad row: the outcome and a piece of the reason the report must give."""

    outcome: str
    reason: str


def make_csv(path: Path, template_id: str, seed: int = 20261128) -> dict[int, Bad]:
    """Write the export; returns the bad rows by line number (the header is line 1)."""
    rng = random.Random(seed)
    header = (
        "record_id,learner_did,learner_email,learner_name,template_id,achievement_name,"
        "achievement_description,criteria,achievement_type,result,awarded_at"
    )
    lines = [header]
    bad: dict[int, Bad] = {}
    bad_lines = rng.sample(range(2, ROWS + 2), BAD_CLIENT + BAD_SERVICE)
    client_lines = set(bad_lines[:BAD_CLIENT])
    service_lines = set(bad_lines[BAD_CLIENT:])
    for line in range(2, ROWS + 2):
        n = line - 1
        did = f"did:key:z6Mk{uuid.UUID(int=rng.getrandbits(128)).hex}"
        row = [f"SIS-{n:06d}", did, "", f"Learner {n}", template_id, "", "", "", "",
               rng.choice("ABC"), "2026-06-15"]  # fmt: skip
        if n % 4 == 0:  # an inline achievement instead of the template, identified by email
            row[1:9] = ["", f"learner{n}@example.edu", f"Learner {n}", "", "First aid",
                        "Basic first aid.", "Pass the practical test.", "Certificate"]  # fmt: skip
            row[9] = "pass"
        if line in client_lines:
            kind = n % 5
            if kind == 0:
                row[0] = ""
                bad[line] = Bad("invalid", "record_id: is required")
            elif kind == 1:
                row[1], row[2] = "", "not-an-email"
                bad[line] = Bad("invalid", "learner_email")
            elif kind == 2:
                row[10] = "15/06/2026"
                bad[line] = Bad("invalid", "awarded_at")
            elif kind == 3:
                row[4:8] = ["", "", "", ""]
                bad[line] = Bad("invalid", "template_id is empty")
            else:
                row = row[:5]
                bad[line] = Bad("invalid", "has 5 fields, the header has 11")
        elif line in service_lines:
            kind = n % 3
            row[4:9] = [template_id, "", "", "", ""]
            row[9] = rng.choice("ABC")
            if kind == 0:
                row[4] = "tmpl_does_not_exist"
                bad[line] = Bad("rejected", "TEMPLATE_NOT_FOUND")
            elif kind == 1:
                row[9] = "Z"
                bad[line] = Bad("rejected", "allowed values")
            else:
                row[1], row[2] = "did:EXAMPLE:learner", ""
                bad[line] = Bad("rejected", "must be a DID")
        lines.append(",".join(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bad


async def _count(database: str) -> tuple[int, int]:
    conn = await asyncpg.connect(database)
    try:
        row = await conn.fetchrow("SELECT count(*), count(DISTINCT record_id) FROM credentials")
        return int(row[0]), int(row[1])
    finally:
        await conn.close()


@pytest.fixture
def timings() -> Iterator[dict[str, float]]:
    found: dict[str, float] = {}
    yield found
    print(f"\nbulk CSV timings: {json.dumps(found)}")


async def test_bulk_csv_10000_rows_3_percent_bad(
    issuance: Issuance, tmp_path: Path, timings: dict[str, float]
) -> None:
    base = {"LER_ISSUANCE_ADDR": issuance.grpc_addr}
    key_file = tmp_path / "university.key"
    done = await asyncio.to_thread(
        ler, "institution", "register", "--name", "Bulk University", "--url",
        "https://bulk.example.edu", "--did-key", "--cryptosuite", "eddsa-jcs-2022",
        "--api-key-out", str(key_file), env={**base, "LER_ISSUANCE_TOKEN": OPERATOR_TOKEN},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    issuer_id = json.loads(done.stdout)["issuer_id"]
    inst = {**base, "LER_ISSUER_ID": issuer_id}
    done = await asyncio.to_thread(
        ler, "institution", "achievement", "define", "--token-file", str(key_file), "--name",
        "Statistics 101", "--description", "Introductory statistics.", "--criteria",
        "Pass the exam.", "--type", "Course", "--grades", "A,B,C,D,F", env=inst,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    template_id = json.loads(done.stdout)["template_id"]

    source = tmp_path / "sis-export.csv"
    bad = make_csv(source, template_id)
    good = ROWS - len(bad)
    assert len(bad) == 300 and good == 9_700
    bulk = ["institution", "bulk-issue", str(source), "--kafka", issuance.kafka,
            "--requests-topic", issuance.requests_topic, "--results-topic",
            issuance.results_topic, "--wait", "300"]  # fmt: skip

    started = time.monotonic()
    first = await asyncio.to_thread(
        ler, *bulk, "--report", str(tmp_path / "first.json"), env=inst, timeout=420
    )
    timings["first_run_s"] = round(time.monotonic() - started, 1)
    assert first.returncode == 1, first.stderr[-2000:] + _tail(issuance.log)
    report = json.loads((tmp_path / "first.json").read_text())
    assert report["summary"] == {
        **report["summary"],
        "rows": ROWS,
        "issued": good,
        "replayed": 0,
        "invalid": BAD_CLIENT,
        "rejected": BAD_SERVICE,
        "no_result": 0,
    }
    timings["first_send_s"] = report["summary"]["send_seconds"]
    by_line = {r["row"]: r for r in report["rows"]}
    for line, expected in bad.items():
        got = by_line[line]
        assert got["outcome"] == expected.outcome, got
        assert expected.reason in got["reason"], got
        assert f"row {line} " in first.stdout  # and in the printed report
    issued_ids = {
        r["record_id"]: r["credential_id"] for r in report["rows"] if r["outcome"] == "issued"
    }
    assert len(issued_ids) == good and all(issued_ids.values())
    assert len(set(issued_ids.values())) == good
    sent = good + BAD_SERVICE  # client-side failures are never sent
    assert f"sending: {sent}/{sent}" in first.stderr and f"results: {sent}/{sent}" in first.stderr
    assert await _count(issuance.database) == (good, good)  # exactly once each

    started = time.monotonic()
    again = await asyncio.to_thread(
        ler, *bulk, "--report", str(tmp_path / "again.csv"), env=inst, timeout=420
    )
    timings["rerun_s"] = round(time.monotonic() - started, 1)
    assert again.returncode == 1, again.stderr[-2000:]
    assert again.stdout.startswith(
        f"{ROWS} rows: 0 issued, {good} already issued (replayed), {BAD_CLIENT} invalid"
    ), again.stdout[:300]
    replayed = {
        r["record_id"]: r["credential_id"]
        for r in _report_rows(tmp_path / "again.csv")
        if r["outcome"] == "replayed"
    }
    assert replayed == issued_ids  # the same credentials, nothing new
    assert await _count(issuance.database) == (good, good)
