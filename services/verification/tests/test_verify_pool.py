"""The worker pool for the offline phase of verification (``verify_workers``): the same reports
as in-process, micro-batches under load, answers (never errors) when a worker is killed, and
no child process left behind.

The services run in-process (SQLite); the pool's worker is a real spawned process. Both
services and the pool are started once for the module: spawning a worker takes a second or two.
"""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from ler.verification.v1 import verification_service_pb2 as pb
from ler_crypto.vc_model import Policy
from ler_crypto.verifier import Stage
from ler_platform.local_tls import write_loopback_certificate
from ler_verification.adapters.prepare_pool import DEFAULT_MAX_BATCH, PreparePool
from vhelpers import (
    DocumentServer,
    Issuer,
    Party,
    Running,
    settings_for,
    start_service,
    stop_service,
    to_bytes,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

VERIFIED, FAILED = 1, 3  # ler.common.v1.Verdict


@dataclass
class Pair:
    """The same configuration twice: with a pool of one worker, and all in-process."""

    pooled: Running
    local: Running
    issuer: Issuer

    @property
    def pool(self) -> PreparePool:
        pool = self.pooled.app.prepare_pool
        assert pool is not None
        return pool


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pair(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    tmp = tmp_path_factory.mktemp("verify-pool")
    cert, key = write_loopback_certificate(tmp)
    docs = DocumentServer(cert, key)
    await docs.start()
    issuer = Issuer(Party.new(), docs)
    issuer.revoked.add(13)
    issuer.publish_lists()
    pooled = await start_service(
        settings_for(f"sqlite+aiosqlite:///{tmp / 'pooled.db'}", cert, verify_workers=1)
    )
    local = await start_service(
        settings_for(f"sqlite+aiosqlite:///{tmp / 'local.db'}", cert, verify_workers=0)
    )
    try:
        yield Pair(pooled, local, issuer)
    finally:
        await stop_service(local)
        await stop_service(pooled)
        await docs.stop()


async def _until(condition: Callable[[], bool], *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.01)


def _inputs(issuer: Issuer) -> dict[str, bytes]:
    holder = Party.new().did
    valid = issuer.badge(holder, index=1)
    tampered = copy.deepcopy(valid)
    tampered["credentialSubject"]["achievement"]["name"] = "Something Else"
    text = to_bytes(valid)
    return {
        "valid": text,
        "valid-rdfc": to_bytes(issuer.badge(holder, index=2, cryptosuite="eddsa-rdfc-2022")),
        "tampered": to_bytes(tampered),
        "revoked": to_bytes(issuer.badge(holder, index=13)),
        "garbage": b"\x00\xffnot a credential",
        "not-a-credential": b'{"a": 1}',
        "truncated": text[: len(text) // 2],
        "array": b"[1, 2, 3]",
    }


def _comparable(response: pb.VerifyCredentialResponse) -> tuple[Any, ...]:
    """A response without what differs per call (verification id and time, and the instant
    a validity check states, "valid at <now>")."""
    report = pb.VerifyCredentialResponse()
    report.CopyFrom(response)
    report.report.ClearField("verification_id")
    report.report.ClearField("verified_at")
    for check in report.report.checks:
        if check.id == "validity.window" and check.reason.startswith("valid at "):
            check.reason = "valid at (now)"
    return (report.SerializeToString(deterministic=True), response.report.verdict)


async def _verify(service: Running, data: bytes) -> pb.VerifyCredentialResponse:
    return await service.stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=data), metadata=service.metadata
    )


async def _verify_together(service: Running, data: bytes) -> list[pb.VerifyCredentialResponse]:
    """Three calls at once: a verification not alone in the process goes to the workers."""
    return list(await asyncio.gather(*(_verify(service, data) for _ in range(3))))


async def test_the_pool_gives_the_same_answers_as_in_process(pair: Pair) -> None:
    verdicts = {}
    for name, data in _inputs(pair.issuer).items():
        before = pair.pool.prepared_by_workers
        pooled, local = await _verify_together(pair.pooled, data), await _verify(pair.local, data)
        assert all(_comparable(answer) == _comparable(local) for answer in pooled), name
        # the worker prepared those that were not alone
        assert pair.pool.prepared_by_workers - before >= 1, name
        verdicts[name] = local.report.verdict
    # the inputs cover each kind of answer
    assert verdicts["valid"] == verdicts["valid-rdfc"] != FAILED
    for name in ("tampered", "revoked", "garbage", "not-a-credential", "truncated", "array"):
        assert verdicts[name] == FAILED, name


async def test_a_verification_alone_is_prepared_in_the_service_process(pair: Pair) -> None:
    # handing one item to a worker costs more time than it saves when nothing else runs
    good = _inputs(pair.issuer)["valid"]
    before = pair.pool.prepared_by_workers
    for _ in range(3):
        answer = await _verify(pair.pooled, good)
        assert _comparable(answer) == _comparable(await _verify(pair.local, good))
    assert pair.pool.prepared_by_workers == before


async def _stream(service: Running, items: list[bytes]) -> dict[str, pb.VerifyStreamResponse]:
    async def requests() -> AsyncIterator[pb.VerifyStreamRequest]:
        for i, data in enumerate(items):
            yield pb.VerifyStreamRequest(
                correlation_id=str(i), credential=pb.VerifyCredentialRequest(credential=data)
            )

    answers = {}
    async for response in service.stub.VerifyStream(requests(), metadata=service.metadata):
        answers[response.correlation_id] = response
    return answers


async def test_a_stream_is_prepared_in_micro_batches(pair: Pair) -> None:
    inputs = _inputs(pair.issuer)
    items = [inputs["valid"], inputs["tampered"]] * 60
    answers = await _stream(pair.pooled, items)
    assert len(answers) == len(items)
    for i, data in enumerate(items):
        response = answers[str(i)]
        assert response.WhichOneof("result") == "credential", response
        expected = FAILED if data is inputs["tampered"] else response.credential.report.verdict
        assert response.credential.report.verdict == expected
        assert (response.credential.report.verdict == FAILED) == (data is inputs["tampered"])
    # items that arrived while the worker was busy went to it together
    assert 1 < pair.pool.largest_batch <= DEFAULT_MAX_BATCH


async def test_a_killed_worker_costs_no_answer_and_the_pool_recovers(pair: Pair) -> None:
    pool = pair.pool
    (victim,) = await pool.worker_pids()
    restarts = pool.restarts
    good = _inputs(pair.issuer)["valid"]
    expected = _comparable(await _verify(pair.local, good))

    stream = asyncio.create_task(_stream(pair.pooled, [good] * 300))
    # kill the worker while the stream keeps it busy
    started = pool.prepared_by_workers
    await _until(lambda: pool.prepared_by_workers > started, within=10, what="work")
    os.kill(victim, signal.SIGKILL)
    answers = await asyncio.wait_for(stream, 60)

    assert len(answers) == 300
    for response in answers.values():
        assert response.WhichOneof("result") == "credential", response
        assert response.credential.report.verdict != FAILED
    assert pool.restarts == restarts + 1
    await _until(lambda: pool.ready, within=30, what="the restarted pool")
    assert victim not in await pool.worker_pids()
    recovered = pool.prepared_by_workers
    assert all(_comparable(a) == expected for a in await _verify_together(pair.pooled, good))
    assert pool.prepared_by_workers > recovered  # prepared by the new worker


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers signal 0; it is gone for our purposes once it is reaped
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


async def test_stop_leaves_no_child_process() -> None:
    pool = PreparePool(1)
    await pool.start()
    try:
        pids = await pool.worker_pids()
        assert pids and all(_alive(pid) for pid in pids)
        prepared = await pool.prepare(b'{"@context": [], "type": []}', Policy(), datetime.now(UTC))
        # no DID to resolve: the (missing) proof was checked on the worker too
        assert prepared.stage is Stage.KEYS and pool.prepared_by_workers == 1
    finally:
        await pool.stop()
    await _until(lambda: not any(_alive(pid) for pid in pids), within=10, what="workers to end")
    # once stopped, the pool still answers, in-process
    after = await pool.prepare(b"not json", Policy(), datetime.now(UTC))
    assert after.stage is Stage.DONE and after.report.malformed
    assert pool.prepared_by_workers == 1


async def test_a_pool_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        PreparePool(0)
