"""CLR request messages → the CLR use case's request, shared by IssueClr (gRPC) and the
requests-topic consumer, so that both build a CLR the same way."""

from __future__ import annotations

from collections.abc import Iterable

from ler.issuance.v1 import events_pb2 as epb
from ler.issuance.v1 import issuance_service_pb2 as pb

from ler_issuance.adapters import proto
from ler_issuance.service_layer import clr


def clr_items(achievements: Iterable[pb.ClrAchievement]) -> tuple[clr.ClrItem, ...]:
    """ClrAchievement messages → the achievements to issue and embed."""
    items = []
    for a in achievements:
        source = a.WhichOneof("achievement_source")
        items.append(
            clr.ClrItem(
                record_id=a.record_id,
                template_id=a.template_id if source == "template_id" else "",
                achievement=proto.achievement(a.achievement) if source == "achievement" else None,
                results=proto.results(a.results),
                evidence=proto.evidence(a.evidence),
                awarded_at=proto.from_ts(a, "awarded_at"),
                credits_earned=a.credits_earned,
            )
        )
    return tuple(items)


def clr_request(request: pb.IssueClrRequest) -> clr.ClrRequest:
    """IssueClrRequest → the use case's request."""
    return clr.ClrRequest(
        record_id=request.record_id,
        subject=proto.subject(request.subject),
        name=request.name,
        description=request.description,
        partial=request.partial,
        credential_ids=tuple(request.credential_ids),
        achievements=clr_items(request.achievements),
        format=proto._enum(request.format, proto.FORMATS, "format"),
        cryptosuite=proto._enum(request.cryptosuite, proto.SUITES, "cryptosuite"),
    )


def streamed_clr_request(spec: epb.ClrSpec, credential_ids: tuple[str, ...]) -> clr.ClrRequest:
    """A streamed ClrSpec → the use case's request; ``credential_ids`` are the credentials its
    ``credential_record_ids`` resolved to (``clr.credential_ids_for``)."""
    return clr.ClrRequest(
        record_id=spec.record_id,
        subject=proto.subject(spec.subject),
        name=spec.name,
        description=spec.description,
        partial=spec.partial,
        credential_ids=credential_ids,
        achievements=clr_items(spec.achievements),
        cryptosuite=proto._enum(spec.cryptosuite, proto.SUITES, "clr.cryptosuite"),
    )
