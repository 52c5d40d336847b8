"""Kafka consumers: credential deliveries and status changes from the issuance service.

Both run on the platform's ``IdempotentConsumer``: the inbox row of each event and its effect
commit in one transaction, and offsets are committed only after it, so a replay changes
nothing — each credential reaches its learner exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from google.protobuf.message import Message
from ler.issuance.v1.events_pb2 import CredentialIssued, CredentialStatusChanged
from ler_platform.events.envelope import Event, EventTypeRegistry
from ler_platform.events.runner import PoisonMessage
from sqlalchemy.ext.asyncio import AsyncSession

from ler_wallet.adapters.proto import FORMAT_OF, STATE_OF
from ler_wallet.domain.errors import UnsupportedCredential
from ler_wallet.service_layer import receiving
from ler_wallet.service_layer.context import Context
from ler_wallet.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

UowFactory = Callable[[AsyncSession], UnitOfWork]
"""Builds a unit of work that joins the consumer's session (it commits, not the unit)."""

ISSUED_REGISTRY = EventTypeRegistry([CredentialIssued])
STATUS_REGISTRY = EventTypeRegistry([CredentialStatusChanged])


class WalletConsumers:
    """Handlers bound to the use-case context; ``uow_for(session)`` joins the consumer's
    transaction."""

    def __init__(self, ctx: Context, uow_for: UowFactory) -> None:
        self._ctx = ctx
        self._uow_for = uow_for
        self.delivered = 0

    async def on_issued(self, session: AsyncSession, event: Event[Message]) -> None:
        """Deliver a newly issued credential to the learner it names (verified on receipt)."""
        msg = event.message
        if not isinstance(msg, CredentialIssued):  # pragma: no cover - registry decodes
            return
        async with self._uow_for(session) as uow:
            try:
                got = await receiving.deliver_issued(
                    self._ctx,
                    uow,
                    subject_id=msg.subject_id,
                    recipient_email=msg.recipient_email,
                    signed_credential=msg.signed_credential,
                    fmt=FORMAT_OF.get(msg.format),
                )
            except UnsupportedCredential as err:
                # bad bytes never get better on retry: straight to the DLQ with the reason
                raise PoisonMessage(str(err), error_type="unsupported_credential") from err
        if got is None:
            log.debug("credential %s names no wallet learner", msg.credential_id)
        elif not got.already_present:
            self.delivered += 1

    async def on_status(self, session: AsyncSession, event: Event[Message]) -> None:
        """Mark held copies revoked, suspended or reinstated (ACTIVE)."""
        msg = event.message
        if not isinstance(msg, CredentialStatusChanged):  # pragma: no cover
            return
        state = STATE_OF.get(msg.new_state)
        if state is None:
            raise PoisonMessage(
                f"status change of {msg.credential_id} has no new_state", error_type="bad_state"
            )
        async with self._uow_for(session) as uow:
            await receiving.apply_status_change(uow, msg.credential_id, state)
