"""Topics of the intake context and the events on them (protos/ler/intake/v1/events.proto)."""

from __future__ import annotations

from ler.intake.v1.events_pb2 import (
    ApplicationFlagged,
    ApplicationSubmitted,
    ApplicationVerified,
    OutcomeRecorded,
)

from ler_proto.topics import Topic

APPLICATIONS_TOPIC = "ler.applications.v1"

APPLICATIONS = Topic(
    APPLICATIONS_TOPIC,
    (ApplicationSubmitted, ApplicationVerified, ApplicationFlagged, OutcomeRecorded),
    key_fields=("application_id",),
    description="Application lifecycle; never the applicant's personal data.",
)

TOPICS: tuple[Topic, ...] = (APPLICATIONS,)
