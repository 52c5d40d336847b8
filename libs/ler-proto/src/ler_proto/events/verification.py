"""Topics of the verification context and the events on them
(protos/ler/verification/v1/events.proto)."""

from __future__ import annotations

from ler.verification.v1.events_pb2 import VerificationCompleted

from ler_proto.topics import Topic

VERIFICATIONS_TOPIC = "ler.verifications.v1"

VERIFICATIONS = Topic(
    VERIFICATIONS_TOPIC,
    (VerificationCompleted,),
    key_fields=("verifier_id",),
    description="A summary of each verification; never personal contents.",
)

TOPICS: tuple[Topic, ...] = (VERIFICATIONS,)
