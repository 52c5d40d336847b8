"""The Kafka topics of every bounded context, one module per context.

Producers and consumers name topics through these constants, never through string literals.
"""

from __future__ import annotations

from ler_proto.events import intake, issuance, verification, wallet
from ler_proto.topics import Topic

ALL_TOPICS: tuple[Topic, ...] = (
    *issuance.TOPICS,
    *wallet.TOPICS,
    *verification.TOPICS,
    *intake.TOPICS,
)
"""Every topic of the system."""

__all__ = ["ALL_TOPICS", "intake", "issuance", "verification", "wallet"]
