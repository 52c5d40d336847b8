"""Consumer of ``ler.issuance.requests.v1``: institutions' streamed issuance requests.

For each batch of records, in ONE transaction: the inbox claims the events (replays are
skipped), valid requests are issued per institution (``BatchIssuer``), every outcome is
reported as an ``IssuanceRequestResult`` on the results topic and every credential as
``CredentialIssued`` — both through the outbox, in the same commit. Requests that cannot be
processed (undecodable, inconsistent key, invalid spec, record-id conflict, unknown issuer...)
are returned to the runner, which puts them unchanged on ``<topic>.dlq`` with the reason in
the ``ler_error`` header after the commit and before the offset commit.

A request carries one AchievementCredential (``spec``) or a CLR 2.0 transcript (``clr``). The
batch's single achievements are issued first, then each CLR in its own savepoint through the
same use case as IssueClr (``clr.issue_clr_in``), so a CLR may bundle records of the same batch
and a rejected CLR leaves nothing of itself behind. Every result echoes the request's
``request_id`` so that the institution can match it to its run.

A rejection is also recorded in ``request_rejections``: when a crash falls between the
database commit and the DLQ publish, the redelivered record is already claimed in the inbox,
and that row is what sends it to the DLQ again, so no rejection is ever lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import Message
from ler.issuance.v1.events_pb2 import ClrSpec, IssuanceRequested
from ler_platform.errors import DomainError, InvalidArgument
from ler_platform.events.bus import EventBus
from ler_platform.events.envelope import Event, EventTypeRegistry
from ler_platform.events.records import ConsumedRecord
from ler_platform.events.runner import PoisonMessage, Rejection, RunnerOptions
from ler_platform.inbox import claim_events
from ler_platform.outbox import OutboxWriter
from ler_platform.tracing import extract_trace_context, sdk_installed, tracer
from ler_proto.topics import KEY_SEPARATOR
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ler_issuance import tables
from ler_issuance.adapters import proto
from ler_issuance.adapters.proto import EventTopics
from ler_issuance.adapters.sql import SqlUnitOfWork
from ler_issuance.domain.events import CredentialIssued, DomainEvent, IssuanceRequestProcessed
from ler_issuance.domain.model import CredentialKind, CredentialSpec
from ler_issuance.entrypoints.clr_messages import streamed_clr_request
from ler_issuance.service_layer import clr
from ler_issuance.service_layer.context import Context
from ler_issuance.service_layer.issuing import BatchIssuer, Outcome

log = logging.getLogger(__name__)
REGISTRY = EventTypeRegistry([IssuanceRequested])
MAX_REQUEST_ID = 200  # characters of a request_id echoed back


@dataclass
class _Item:
    record: ConsumedRecord
    event_id: str
    issuer_id: str
    record_id: str
    request_id: str = ""
    kind: CredentialKind | None = None
    spec: CredentialSpec | None = None
    clr: ClrSpec | None = None
    error: DomainError | PoisonMessage | None = None
    outcome: Outcome | None = None
    credential_id: str = ""
    issued_ids: tuple[str, ...] = ()


def _raw_id(record: ConsumedRecord) -> str:
    """An inbox id for a record without a usable ce_id: its position, hashed to 64 chars."""
    where = f"{record.topic}:{record.partition}:{record.offset}".encode()
    return hashlib.sha256(where).hexdigest()


def _key_parts(record: ConsumedRecord) -> tuple[str, str]:
    key = (record.key or b"").decode(errors="replace")
    issuer_id, _, record_id = key.partition(":")
    return issuer_id, record_id


def _decode(record: ConsumedRecord) -> _Item:
    """Decode and check one record; failures become an item carrying its error."""
    try:
        event: Event[Message] = REGISTRY.decode(record)
    except PoisonMessage as err:
        issuer_id, record_id = _key_parts(record)
        return _Item(record, _raw_id(record), issuer_id, record_id, error=err)
    message = event.message
    if not isinstance(message, IssuanceRequested):  # pragma: no cover - one registered type
        return _Item(record, event.id, "", "", error=PoisonMessage("unexpected event type"))
    is_clr = message.HasField("clr")
    item = _Item(
        record,
        event.id,
        message.issuer_id,
        message.clr.record_id if is_clr else message.spec.record_id,
        request_id=message.request_id[:MAX_REQUEST_ID],
        kind=CredentialKind.CLR if is_clr else CredentialKind.ACHIEVEMENT,
    )
    if is_clr and message.HasField("spec"):
        item.error = InvalidArgument(
            "a request carries either spec (one achievement) or clr (a transcript), not both",
            reason="AMBIGUOUS_REQUEST",
        )
        return item
    # the key is "<issuer_id>:<record_id>" of whichever of spec / clr is given
    expected = (
        KEY_SEPARATOR.join((message.issuer_id, item.record_id))
        if message.issuer_id and item.record_id
        else ""
    )
    if event.key != expected:
        # each institution may only produce its own issuer id: the key is what topic ACLs
        # check, so a body naming another issuer (or record) than its key is refused
        item.error = InvalidArgument(
            f"record key {event.key!r} does not match the request's issuer_id and record_id",
            reason="KEY_MISMATCH",
        )
        return item
    if is_clr:
        item.clr = message.clr  # converted when issued: its record references need the store
        return item
    try:
        item.spec = proto.spec(message.spec)
    except DomainError as err:
        item.error = err
    return item


def _event_key(event: DomainEvent) -> tuple[str, str]:
    """(issuer id, record id) of the request an event answers."""
    if isinstance(event, CredentialIssued):
        return event.credential.issuer_id, event.credential.record_id
    if isinstance(event, IssuanceRequestProcessed):
        return event.issuer_id, event.record_id
    return "", ""


def _reason(error: DomainError | PoisonMessage) -> tuple[str, str, str, str]:
    """(reason code, field, message, DLQ header text) for a rejection."""
    if isinstance(error, PoisonMessage):
        return "MALFORMED_REQUEST", "", error.reason, f"MALFORMED_REQUEST: {error.reason}"
    violations = getattr(error, "violations", ())
    field = violations[0].field if violations else ""
    return error.reason, field, error.message, f"{error.reason}: {error.message}"


class IssuanceRequestConsumer:
    """The requests topic's consumer-group members of this process (a runtime component).

    With ``members`` > 1 the process joins the group that many times and the broker shares the
    partitions among the members as among processes: a request's key (issuer and record id)
    keeps every request for one record on one member, while two members let one batch's
    database round trips and its wait for the signing workers overlap with another batch's
    work. That overlap is what lets issuance use more than one core (bench/issuance.py).
    """

    def __init__(
        self,
        ctx: Context,
        *,
        bus: EventBus,
        sessions: async_sessionmaker[AsyncSession],
        inbox: Table,
        outbox: OutboxWriter,
        topics: EventTopics,
        requests_topic: str,
        group_id: str,
        options: RunnerOptions,
        members: int = 1,
    ) -> None:
        if members < 1:
            raise ValueError("a request consumer needs at least one member")
        self._ctx = ctx
        self._sessions = sessions
        self._inbox = inbox
        self._outbox = outbox
        self._topics = topics
        self._group_id = group_id
        self._options = options
        self._runners = [
            bus.subscribe([requests_topic], group_id, self.handle, options) for _ in range(members)
        ]
        self.issued = 0
        self.replayed = 0
        self.rejected = 0

    async def start(self) -> None:
        """Join the group and start consuming."""
        for runner in self._runners:
            await runner.start()

    async def stop(self) -> None:
        """Finish and commit the batches in hand, then leave the group (members together, so
        that none is handed a leaving member's partitions on its way out)."""
        await asyncio.gather(*(runner.stop() for runner in self._runners))

    @property
    def dead_lettered(self) -> int:
        """Records sent to the DLQ by this process's members."""
        return sum(runner.dead_lettered for runner in self._runners)

    async def handle(self, records: Sequence[ConsumedRecord]) -> Sequence[Rejection]:
        """The runner's batch handler (see the module docstring)."""
        items = [_decode(r) for r in records]
        spans = self._spans(items)
        try:
            return await self._apply(items, dict(zip((id(i) for i in items), spans, strict=False)))
        finally:
            for span in spans:
                span.end()

    def _spans(self, items: list[_Item]) -> list[Span]:
        if not sdk_installed():
            return []
        return [
            tracer().start_span(
                f"{i.record.topic} process",
                context=extract_trace_context(i.record.headers),
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": i.record.topic,
                    "messaging.operation.type": "process",
                    "messaging.consumer.group.name": self._group_id,
                    "messaging.message.id": i.event_id,
                    "ler.issuer_id": i.issuer_id,
                },
            )
            for i in items
        ]

    async def _apply(self, items: list[_Item], spans: dict[int, Span]) -> list[Rejection]:
        async with self._sessions() as session, session.begin():
            fresh_ids = await claim_events(
                await session.connection(), self._inbox, self._group_id, [i.event_id for i in items]
            )
            fresh: list[_Item] = []
            replays: list[_Item] = []
            for item in items:
                if item.event_id in fresh_ids:
                    fresh_ids.discard(item.event_id)  # the same event twice in one batch
                    fresh.append(item)
                else:
                    replays.append(item)
            uow = SqlUnitOfWork(
                None, self._outbox, self._topics, session=session, metrics=self._options.metrics
            )
            async with uow:
                await self._issue(uow, fresh)
                await self._issue_clrs(uow, session, fresh)
                for item in fresh:
                    self._report(uow, item)
                await self._write_in_trace(uow, fresh, spans)
            rejected = {
                i.event_id: (i.record, _reason(i.error)) for i in fresh if i.error is not None
            }
            if rejected:
                await session.execute(
                    insert(tables.request_rejections),
                    [
                        {"event_id": eid, "reason": why[3][:1000], "error_type": why[0][:64]}
                        for eid, (_, why) in rejected.items()
                    ],
                )
            earlier = await self._earlier_rejections(session, replays)
        rejections = [
            Rejection(record, PoisonMessage(why[3], error_type=why[0]))
            for record, why in rejected.values()
        ]
        for item in replays:
            found = earlier.get(item.event_id)
            if found is not None:
                rejections.append(
                    Rejection(item.record, PoisonMessage(found[0], error_type=found[1]))
                )
        return rejections

    async def _write_in_trace(
        self, uow: SqlUnitOfWork, fresh: list[_Item], spans: dict[int, Span]
    ) -> None:
        """Write each request's events in that request's trace (DESIGN.md "Observability":
        request → credential issued is one trace). Without tracing, nor trace context on the
        requests, the events stay staged and are written together (one INSERT per topic)."""
        traced = [i for i in fresh if id(i) in spans or i.record.header("traceparent")]
        if not traced:
            return
        staged: dict[tuple[str, str], list[DomainEvent]] = {}
        for event in uow.take_events():
            staged.setdefault(_event_key(event), []).append(event)
        for item in traced:
            events = staged.pop((item.issuer_id, item.record_id), [])
            span = spans.get(id(item))
            parent = (
                trace.set_span_in_context(span)
                if span is not None
                else extract_trace_context(item.record.headers)
            )
            token = otel_context.attach(parent)
            try:
                await uow.write_events(events)
            finally:
                otel_context.detach(token)
        await uow.write_events([e for group in staged.values() for e in group])

    async def _issue(self, uow: SqlUnitOfWork, fresh: list[_Item]) -> None:
        by_issuer: dict[str, list[_Item]] = {}
        for item in fresh:
            if item.error is None and item.spec is not None:
                by_issuer.setdefault(item.issuer_id, []).append(item)
        for issuer_id, group in by_issuer.items():
            results = await BatchIssuer(self._ctx, uow, issuer_id).run(
                [i.spec for i in group if i.spec is not None]
            )
            for item, result in zip(group, results, strict=True):
                if result.outcome is Outcome.REJECTED:
                    item.error = result.error
                    self.rejected += 1
                else:
                    item.outcome = result.outcome
                    item.credential_id = (
                        result.credential.credential_id if result.credential else ""
                    )
                    if result.outcome is Outcome.ISSUED:
                        self.issued += 1
                    else:
                        self.replayed += 1

    async def _issue_clrs(
        self, uow: SqlUnitOfWork, session: AsyncSession, fresh: list[_Item]
    ) -> None:
        """Issue each streamed CLR in a savepoint of its own: a rejected one (e.g. one bad
        achievement after others were issued) leaves no credential, status entry or event."""
        for item in fresh:
            if item.error is not None or item.clr is None:
                continue
            try:
                async with session.begin_nested():
                    inner = SqlUnitOfWork(None, self._outbox, self._topics, session=session)
                    async with inner:
                        references = await clr.credential_ids_for(
                            inner, item.issuer_id, tuple(item.clr.credential_record_ids)
                        )
                        outcome = await clr.issue_clr_in(
                            self._ctx,
                            inner,
                            item.issuer_id,
                            streamed_clr_request(item.clr, references),
                        )
                        # staged in the batch's unit of work, written with the others
                        events = inner.take_events()
            except DomainError as err:
                item.error = err
                self.rejected += 1
                continue
            for event in events:
                uow.publish(event)
            item.credential_id = outcome.credential.credential_id
            item.issued_ids = outcome.issued_credential_ids
            item.outcome = Outcome.REPLAYED if outcome.replayed else Outcome.ISSUED
            if outcome.replayed:
                self.replayed += 1
            else:
                self.issued += 1

    def _report(self, uow: SqlUnitOfWork, item: _Item) -> None:
        """An IssuanceRequestResult for the institution (only when it can be addressed)."""
        if not item.issuer_id:
            return
        if item.error is not None:
            code, field, message, _ = _reason(item.error)
            outcome, credential_id = Outcome.REJECTED.value, ""
        else:
            code = field = message = ""
            outcome = (item.outcome or Outcome.ISSUED).value
            credential_id = item.credential_id
        uow.publish(
            IssuanceRequestProcessed(
                issuer_id=item.issuer_id,
                record_id=item.record_id or "(none)",
                outcome=outcome,
                credential_id=credential_id,
                error_reason=code,
                error_field=field,
                error_message=message,
                processed_at=self._ctx.now(),
                request_id=item.request_id,
                kind=item.kind,
                issued_credential_ids=() if item.error is not None else item.issued_ids,
            )
        )

    async def _earlier_rejections(
        self, session: AsyncSession, replays: list[_Item]
    ) -> dict[str, tuple[str, str]]:
        if not replays:
            return {}
        t = tables.request_rejections
        rows = (
            await session.execute(
                select(t.c.event_id, t.c.reason, t.c.error_type).where(
                    t.c.event_id.in_([i.event_id for i in replays])
                )
            )
        ).all()
        return {r.event_id: (r.reason, r.error_type) for r in rows}
