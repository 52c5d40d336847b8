"""The webhook sender: signed over timestamp + body, retried with backoff, never lost."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from intake_fakes import FakeShareLinks, FakeUnitOfWork, FakeVerification, Store
from intake_helpers import HttpsServer
from ler_intake.adapters.webhooks import WebhookSender, backoff
from ler_intake.domain.model import Provider
from ler_intake.service_layer.context import Context
from ler_platform.local_tls import write_loopback_certificate


async def test_retried_with_backoff_until_delivered_and_signed(tmp_path: Path) -> None:
    cert, key = write_loopback_certificate(tmp_path)
    receiver = HttpsServer(cert, key)
    await receiver.start()
    now = [datetime(2026, 11, 28, 12, 0, tzinfo=UTC)]
    store = Store()
    ctx = Context(
        uow=lambda: FakeUnitOfWork(store),
        verification=FakeVerification(),
        share_links=FakeShareLinks(),
        clock=lambda: now[0],
    )
    store.providers["prv_1"] = Provider(
        "prv_1", "ACME", "", "acme.example", receiver.url("/hook"), now[0], "h", "s3cret"
    )
    async with ctx.uow() as uow:
        await uow.webhooks.enqueue("prv_1", "application.flagged", b'{"a":1}', now[0])
    sender = WebhookSender(
        ctx,
        ctx.uow,
        timeout=5,
        max_attempts=5,
        backoff_base=10,
        backoff_max=600,
        poll=0.1,
        ca_file=str(cert),
    )
    receiver.fail_posts = 2
    try:
        assert await sender.deliver_due() == 1  # 503: rescheduled, not lost
        assert store.webhooks[0].attempts == 1
        assert store.webhooks[0].next_attempt_at >= now[0] + timedelta(seconds=7.5)
        assert await sender.deliver_due() == 0  # not due yet
        now[0] += timedelta(seconds=16)
        assert await sender.deliver_due() == 1  # 503 again
        assert store.webhooks[0].attempts == 2
        now[0] += timedelta(seconds=31)
        assert await sender.deliver_due() == 1
        assert store.webhooks == [] and sender.sent == 1
    finally:
        await receiver.stop()
    ((path, headers, body),) = receiver.posts
    stamp, mac = (p.split("=", 1)[1] for p in headers["X-Ler-Signature"].split(","))
    assert stamp == str(int(now[0].timestamp())) and body == b'{"a":1}'
    assert mac == hmac.new(b"s3cret", stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Ler-Event"] == "application.flagged" and path == "/hook"


def test_backoff_grows_and_is_capped() -> None:
    assert 7.5 <= backoff(1, 10, 600) <= 12.5
    assert 30 <= backoff(3, 10, 600) <= 50
    assert backoff(30, 10, 600) <= 750


async def test_no_transaction_is_open_while_sending_and_a_crash_resends(tmp_path: Path) -> None:
    cert, key = write_loopback_certificate(tmp_path)
    receiver = HttpsServer(cert, key)
    await receiver.start()
    now = [datetime(2026, 11, 28, 12, 0, tzinfo=UTC)]
    store = Store()
    ctx = Context(
        uow=lambda: FakeUnitOfWork(store),
        verification=FakeVerification(),
        share_links=FakeShareLinks(),
        clock=lambda: now[0],
    )
    store.providers["prv_1"] = Provider(
        "prv_1", "ACME", "", "acme.example", receiver.url("/hook"), now[0], "h", "s3cret"
    )
    async with ctx.uow() as uow:
        for i in range(3):
            await uow.webhooks.enqueue("prv_1", "application.verified", b'{"n":%d}' % i, now[0])
    open_during_posts: list[int] = []
    receiver.on_post = lambda: open_during_posts.append(store.open_units)
    sender = WebhookSender(
        ctx,
        ctx.uow,
        timeout=5,
        max_attempts=5,
        backoff_base=10,
        backoff_max=600,
        poll=0.1,
        ca_file=str(cert),
    )

    async def crash(*_: object) -> None:
        raise RuntimeError("the process died after sending")

    record = sender._record
    sender._record = crash  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError):
            await sender.deliver_due()
        assert len(receiver.posts) == 3 and open_during_posts == [0, 0, 0]
        # nothing was recorded: the rows stay queued, leased, and are not due before the lease
        assert [d.attempts for d in store.webhooks] == [0, 0, 0]
        sender._record = record  # type: ignore[method-assign]
        assert await sender.deliver_due() == 0
        now[0] += timedelta(seconds=16)  # the lease (2 x timeout + 5 s) ran out
        assert await sender.deliver_due() == 3
        assert store.webhooks == [] and sender.sent == 3
    finally:
        await receiver.stop()
    # at least once: each notification arrived twice, with the same delivery id
    ids = [h["X-Ler-Delivery"] for _, h, _ in receiver.posts]
    assert len(ids) == 6 and sorted(set(ids)) == sorted(ids[:3])
    assert open_during_posts == [0] * 6
