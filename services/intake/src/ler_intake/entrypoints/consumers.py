"""Kafka consumer of ``ler.credentials.status.v1``: re-verify and flag affected applications.

Runs on the platform's ``IdempotentConsumer``: the inbox row of each event and its effect
(flags, outbox events, change feed, webhook rows) commit in one transaction, and offsets are
committed only after it, so a replay changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from google.protobuf.message import Message
from ler.common.v1 import credential_pb2 as cpb
from ler.issuance.v1.events_pb2 import CredentialStatusChanged
from ler_platform.events.envelope import Event, EventTypeRegistry
from sqlalchemy.ext.asyncio import AsyncSession

from ler_intake.adapters.notify import ChangeBroadcaster
from ler_intake.service_layer import status
from ler_intake.service_layer.context import Context
from ler_intake.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

UowFactory = Callable[[AsyncSession], UnitOfWork]
"""Builds a unit of work that joins the consumer's session (it commits, not the unit)."""

STATUS_REGISTRY = EventTypeRegistry([CredentialStatusChanged])
_STATE = {
    cpb.CREDENTIAL_STATUS_STATE_REVOKED: "revoked",
    cpb.CREDENTIAL_STATUS_STATE_SUSPENDED: "suspended",
}


def _changed_at(msg: CredentialStatusChanged, event: Event[Message]) -> datetime:
    """When the status changed: the message's ``changed_at``, else the event's time."""
    if msg.HasField("changed_at"):
        try:
            return msg.changed_at.ToDatetime(tzinfo=UTC)
        except (ValueError, OverflowError):
            pass  # out of range: fall back to the envelope's time
    return event.time


class StatusConsumer:
    """Handler bound to the use-case context."""

    def __init__(self, ctx: Context, uow_for: UowFactory, changes: ChangeBroadcaster) -> None:
        self._ctx = ctx
        self._uow_for = uow_for
        self._changes = changes
        self.flagged = 0

    async def on_status(self, session: AsyncSession, event: Event[Message]) -> None:
        """A credential was revoked or suspended: flag the applications it stands behind.
        (Reinstatements change nothing: a flag stays for the reviewer to read.)"""
        msg = event.message
        if not isinstance(msg, CredentialStatusChanged):  # pragma: no cover - registry decodes
            return
        state = _STATE.get(msg.new_state)
        if state is None:
            return
        async with self._uow_for(session) as uow:
            # VerificationUnavailable propagates: the runner retries with backoff
            flagged = await status.on_status_changed(
                self._ctx, uow, msg.credential_id, state, _changed_at(msg, event)
            )
        self.flagged += len(flagged)
        if flagged:
            log.info("flagged %d application(s) after a status change", len(flagged))
            self._changes.notify()
