"""Webhooks to providers' ATSs: HMAC-signed, retried with backoff from a durable queue.

Rows are written in the same transaction as the change they announce (``announce``), so a
notification is never lost and never sent for a change that rolled back; this sender runs
beside intake and never blocks it, and holds no transaction open during HTTP calls
(``deliver_due``). Signature (like Stripe's):
``X-Ler-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`` — the
timestamp is signed with the body so a receiver can refuse replays of old notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import ssl
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp
from ler_platform.tasks import stop_task

from ler_intake.domain.model import Provider
from ler_intake.service_layer.context import Context
from ler_intake.service_layer.unit_of_work import Delivery, UnitOfWork

log = logging.getLogger(__name__)
BATCH = 20


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Ler-Signature`` header value."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: base x 2^(attempts-1), at most ``cap``."""
    delay = min(cap, base * 2 ** max(attempts - 1, 0))
    return delay * (0.75 + random.random() / 2)  # jitter, not security


class WebhookSender:
    """Delivers due webhook rows (a platform ``Component``: started and stopped with it)."""

    def __init__(
        self,
        ctx: Context,
        uow: Callable[[], UnitOfWork],
        *,
        timeout: float,
        max_attempts: int,
        backoff_base: float,
        backoff_max: float,
        poll: float,
        ca_file: str | None = None,
    ) -> None:
        self._ctx = ctx
        self._uow = uow
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_attempts = max_attempts
        self._base = backoff_base
        self._cap = backoff_max
        self._poll = poll
        self._ssl = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.sent = 0

    async def start(self) -> None:
        """Start the delivery loop."""
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self) -> None:
        """Let the round in progress record its results (within the send timeout), then stop;
        undelivered rows stay queued."""
        if self._task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self._timeout.total or 5)
        except TimeoutError:
            await stop_task(self._task, name="webhook sender")
        self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self.deliver_due()
            except Exception:  # the loop must survive a database hiccup
                log.exception("webhook delivery round failed")
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._poll)

    async def deliver_due(self) -> int:
        """One round; returns how many rows were attempted.

        Three steps, so that no database transaction stays open while ATSs answer: claim the
        due rows (lease them past the time a send can take, so no other round or replica
        takes them meanwhile) and commit; send them concurrently; record the results in a new
        transaction. A crash between sending and recording lets the lease run out and the row
        is sent again: delivery is at least once (receivers dedupe on ``X-Ler-Delivery``)."""
        now = self._ctx.clock()
        lease_until = now + timedelta(seconds=2 * self._timeout.total + 5)  # type: ignore[operator]
        async with self._uow() as uow:
            due = await uow.webhooks.due(now, BATCH)
            claimed: list[tuple[Delivery, Provider | None]] = []
            for delivery in due:
                await uow.webhooks.lease(delivery.delivery_id, lease_until)
                claimed.append((delivery, await uow.providers.get(delivery.provider_id)))
        if not claimed:
            return 0
        async with aiohttp.ClientSession(timeout=self._timeout) as http:
            errors = await asyncio.gather(*(self._send(http, d, p, now) for d, p in claimed))
        done = self._ctx.clock()
        async with self._uow() as uow:
            for (delivery, _), error in zip(claimed, errors, strict=True):
                await self._record(uow, delivery, error, done)
        return len(claimed)

    async def _send(
        self, http: aiohttp.ClientSession, d: Delivery, provider: Provider | None, now: datetime
    ) -> str | None:
        """POST one notification: "" when delivered, the error otherwise, None when the
        provider has no webhook (any more)."""
        if provider is None or not provider.webhook_url:
            return None
        stamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "X-Ler-Event": d.event_type,
            "X-Ler-Delivery": d.delivery_id,
            "X-Ler-Signature": sign(provider.webhook_secret, stamp, d.body),
        }
        try:
            async with http.post(
                provider.webhook_url,
                data=d.body,
                headers=headers,
                allow_redirects=False,
                ssl=self._ssl,
            ) as resp:
                return "" if 200 <= resp.status < 300 else f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as err:
            return type(err).__name__

    async def _record(self, uow: UnitOfWork, d: Delivery, error: str | None, now: datetime) -> None:
        if error is None:
            await uow.webhooks.give_up(d.delivery_id, d.attempts, "no webhook configured")
            return
        if not error:
            await uow.webhooks.delivered(d.delivery_id, now)
            self.sent += 1
            return
        attempts = d.attempts + 1
        if attempts >= self._max_attempts:
            log.warning("webhook %s given up after %d attempts: %s", d.delivery_id, attempts, error)
            await uow.webhooks.give_up(d.delivery_id, attempts, error)
        else:
            later = now + timedelta(seconds=backoff(attempts, self._base, self._cap))
            await uow.webhooks.retry_later(d.delivery_id, attempts, later, error)
