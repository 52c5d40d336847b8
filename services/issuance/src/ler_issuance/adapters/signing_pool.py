"""Data Integrity signing on worker processes, so that issuance uses more than one core.

Canonicalization and signing are pure CPU work and hold the GIL; a service process signs on
one core however busy the machine's others are. ``SigningPool`` runs the last, heaviest step
of issuing an LDP credential — the OB 3.0 data-model check, the Data Integrity proof and the
JSON encoding — on ``workers`` processes, while the service process keeps its event loop for
Kafka, PostgreSQL and the outbox.

Key discipline (DESIGN.md "Keys"): a signing job carries the key's *encrypted* blob only. Each
worker receives the key-encryption key once, when it starts (over the pool's private pipe,
never in a log or a repr), decrypts a blob on first use and keeps the key pair in its own
memory; decrypted keys never travel between processes. Workers are started with ``spawn`` so
they inherit nothing of the service's memory (no cached keys, sockets or event loop).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ler_platform.kek import parse_kek

from ler_issuance.adapters import signing_worker
from ler_issuance.service_layer.context import Rejected, SignJob

log = logging.getLogger(__name__)


class SigningUnavailable(RuntimeError):
    """The signing workers could not sign (a worker died). Deliberately not a ``DomainError``:
    it is no fault of the request, so it must fail the whole transaction (and the consumer
    retries the batch) rather than reject items."""


class SigningPool:
    """A ``BatchSigner`` on worker processes (a runtime component: ``start``/``stop``)."""

    def __init__(self, kek_value: str, workers: int) -> None:
        if workers < 1:
            raise ValueError("a signing pool needs at least one worker")
        # validated (and its kid defaulted) as the service's own KEK; the workers get the raw
        # bytes so that they need not import the platform's settings machinery
        kid = parse_kek(kek_value).kid
        encoded = kek_value.strip().rpartition(":")[2]
        self._kek = (kid, base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"SigningPool(workers={self.workers})"

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=signing_worker.init_worker,
            initargs=(*self._kek, os.getpid()),
        )

    async def start(self, within: float = 300.0) -> None:
        """Start the workers and wait until every one has initialised (imports, KEK): a batch
        is split over all workers, so one still starting would stall it."""
        executor = self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        seen: set[int] = set()
        while len(seen) < self.workers:
            if loop.time() > deadline:
                raise SigningUnavailable(
                    f"only {len(seen)} of {self.workers} signing workers started in {within:.0f} s"
                )
            probes = [
                loop.run_in_executor(executor, signing_worker.ready) for _ in range(self.workers)
            ]
            seen.update(await asyncio.gather(*probes))

    async def stop(self) -> None:
        """Let the jobs in hand finish, then stop the workers."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    async def sign(
        self, encrypted_key: bytes, verification_method: str, jobs: Sequence[SignJob]
    ) -> list[bytes | Rejected]:
        """Sign ``jobs`` with the key in ``encrypted_key``, split over the workers, in order."""
        if not jobs:
            return []
        executor = self._executor
        if executor is None:
            raise SigningUnavailable("the signing pool is not started")
        loop = asyncio.get_running_loop()
        size = -(-len(jobs) // self.workers)  # ceil: one chunk per worker
        chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        try:
            results = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        executor,
                        signing_worker.sign_chunk,
                        encrypted_key,
                        verification_method,
                        chunk,
                    )
                    for chunk in chunks
                )
            )
        except BrokenProcessPool as err:
            # a worker died (OOM killer, signal): replace the pool; the caller's transaction
            # rolls back and the consumer retries the batch
            log.error("a signing worker died; restarting the signing pool")
            self._executor = self._new_executor()
            executor.shutdown(wait=False, cancel_futures=True)
            raise SigningUnavailable("a signing worker died; retry") from err
        return [signed for chunk in results for signed in chunk]
