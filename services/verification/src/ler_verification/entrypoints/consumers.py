"""Consumer of ``ler.credentials.status.v1``: drop cached status lists and DID documents of
the issuer whose credential changed, so the next verification refetches them."""

from __future__ import annotations

import logging

from google.protobuf.message import Message
from ler.issuance.v1.events_pb2 import CredentialStatusChanged
from ler_platform.events.envelope import Event, EventTypeRegistry
from ler_proto.events.issuance import CREDENTIALS_STATUS
from sqlalchemy.ext.asyncio import AsyncSession

from ler_verification.adapters.fetching import CachedDidWebFetcher, CachedStatusListFetcher

log = logging.getLogger(__name__)

STATUS_REGISTRY = EventTypeRegistry(CREDENTIALS_STATUS.event_types)
TOPICS = [CREDENTIALS_STATUS.name]


class StatusChangeHandler:
    """Idempotent by nature (invalidating twice is invalidating once); run by the platform's
    ``IdempotentConsumer`` so replays are also skipped by its inbox."""

    def __init__(self, status_lists: CachedStatusListFetcher, dids: CachedDidWebFetcher) -> None:
        self._status_lists = status_lists
        self._dids = dids

    async def __call__(self, _session: AsyncSession, event: Event[Message]) -> None:
        """Apply one event."""
        message = event.message
        if not isinstance(message, CredentialStatusChanged):
            return
        dropped = self._status_lists.cache.invalidate(
            url=message.status_list_url or None, issuer=message.issuer_did or None
        )
        if message.issuer_did:
            dropped += self._dids.invalidate_did(message.issuer_did)
        log.info(
            "status change: dropped %d cached document(s)",
            dropped,
            extra={"issuer_did": message.issuer_did, "event_id": event.id},
        )
