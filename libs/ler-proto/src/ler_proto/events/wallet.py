"""Topics of the wallet context and the events on them (protos/ler/wallet/v1/events.proto)."""

from __future__ import annotations

from ler.wallet.v1.events_pb2 import (
    AccountDeleted,
    ConsentChanged,
    CredentialShared,
    CredentialStored,
    ShareLinkAccessed,
)

from ler_proto.topics import Topic

WALLET_EVENTS_TOPIC = "ler.wallet.events.v1"

WALLET_EVENTS = Topic(
    WALLET_EVENTS_TOPIC,
    (CredentialStored, CredentialShared, ShareLinkAccessed, ConsentChanged, AccountDeleted),
    key_fields=("account_id",),
    description="What happened in learners' wallets; never credential contents.",
)

TOPICS: tuple[Topic, ...] = (WALLET_EVENTS,)
