"""gRPC ``ler.verification.v1.VerificationService``: decode, call the use case, encode.

Domain errors propagate to the platform's error-mapping interceptor (the one place they
become statuses). VerifyStream is the exception by contract: an item that fails gets an
``ErrorDetail`` in its own response, and the stream goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import grpc
from ler.common.v1 import credential_pb2, error_pb2, paging_pb2, verification_report_pb2
from ler.verification.v1 import verification_service_pb2 as pb
from ler.verification.v1 import verification_service_pb2_grpc as pb_grpc
from ler_platform.auth import Tenant, require_tenant
from ler_platform.errors import DomainError, InvalidArgument

from ler_verification.adapters.proto import (
    FORMATS,
    FORMATS_FROM_PROTO,
    policy_from_proto,
    report_to_proto,
    timestamp,
)
from ler_verification.domain.errors import InvalidRequest
from ler_verification.domain.events import Format
from ler_verification.domain.model import TrustedIssuer
from ler_verification.domain.summary import CredentialSummary
from ler_verification.service_layer import challenges, tenants, trust
from ler_verification.service_layer.unit_of_work import UnitOfWorkFactory
from ler_verification.service_layer.verify import (
    Verification,
    VerificationService,
    VerifyCredential,
    VerifyPresentation,
)

log = logging.getLogger(__name__)
SERVICE_NAME = "ler.verification.v1.VerificationService"
MAX_CORRELATION_ID = 256

_KINDS = {
    "achievement": credential_pb2.CREDENTIAL_KIND_ACHIEVEMENT,
    "clr": credential_pb2.CREDENTIAL_KIND_CLR,
    "other": credential_pb2.CREDENTIAL_KIND_OTHER,
}


def _achievement_type(term: str) -> int:
    """OB ``achievementType`` term → enum (PascalCase → ACHIEVEMENT_TYPE_SNAKE_CASE)."""
    if not term or not term.isalnum():
        return 0
    snake = "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(term)).upper()
    try:
        return int(credential_pb2.AchievementType.Value(f"ACHIEVEMENT_TYPE_{snake}"))
    except ValueError:
        return 0


def summary_to_proto(s: CredentialSummary, fmt: Format) -> credential_pb2.CredentialSummary:
    """``ler.common.v1.CredentialSummary``."""
    message = credential_pb2.CredentialSummary(
        credential_id=s.credential_id,
        kind=_KINDS[s.kind],
        types=list(s.types),
        format=FORMATS[fmt],
        issuer_id=s.issuer_id,
        issuer_name=s.issuer_name,
        subject_id=s.subject_id,
        achievement_name=s.achievement_name,
        achievement_type=_achievement_type(s.achievement_type),  # type: ignore[arg-type]
        embedded_credential_ids=list(s.embedded_credential_ids),
    )
    for skill in s.skills:
        message.skills.add(
            framework=skill.framework,
            code=skill.code,
            url=skill.url,
            label=skill.label,
            description=skill.description,
        )
    for name, value in (
        ("valid_from", s.valid_from),
        ("valid_until", s.valid_until),
        ("awarded_at", s.awarded_at),
    ):
        if value is not None:
            try:
                getattr(message, name).CopyFrom(timestamp(value))
            except (ValueError, OverflowError):
                pass  # a date outside Timestamp's range (year 1-9999) is left out of the summary
    return message


def _format(value: int) -> Format:
    try:
        return FORMATS_FROM_PROTO[value]  # type: ignore[index]
    except KeyError:
        raise InvalidRequest("format", f"unknown format {value}") from None


def _fresh_after(
    request: pb.VerifyCredentialRequest | pb.VerifyPresentationRequest,
) -> datetime | None:
    """``status_fresh_after`` as an aware datetime, or ``None`` when unset."""
    if not request.HasField("status_fresh_after"):
        return None
    try:
        return request.status_fresh_after.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as err:
        raise InvalidRequest("status_fresh_after", "is not a valid timestamp") from err


def _trusted_to_proto(issuer: TrustedIssuer) -> pb.TrustedIssuer:
    message = pb.TrustedIssuer(
        issuer_id=issuer.issuer_id,
        name=issuer.name,
        accreditations=list(issuer.accreditations),
        note=issuer.note,
    )
    if issuer.updated_at is not None:
        message.updated_at.CopyFrom(timestamp(issuer.updated_at))
    return message


class _ByteBudget:
    """Bytes of request items read ahead and not yet answered, bounded (one item always fits,
    so that an item larger than the budget waits for an empty pipeline rather than forever)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._used = 0
        self._freed = asyncio.Event()

    async def acquire(self, size: int) -> None:
        while self._used and self._used + size > self._limit:
            self._freed.clear()
            await self._freed.wait()
        self._used += size

    def release(self, size: int) -> None:
        self._used -= size
        self._freed.set()


class VerificationServicer(pb_grpc.VerificationServiceServicer):
    """The servicer; one per process, built by the composition root."""

    def __init__(
        self,
        service: VerificationService,
        uow_factory: UnitOfWorkFactory,
        trust_cache: trust.TrustListCache,
        *,
        stream_concurrency: int = 8,
        stream_max_pending: int = 64,
        stream_max_pending_bytes: int = 32 * 1024 * 1024,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._service = service
        self._uow_factory = uow_factory
        self._trust = trust_cache
        self._concurrency = stream_concurrency
        self._max_pending = stream_max_pending
        self._max_pending_bytes = stream_max_pending_bytes
        self._now = now

    # --- verification ----------------------------------------------------------------------

    async def _credential(
        self, caller: Tenant, request: pb.VerifyCredentialRequest
    ) -> pb.VerifyCredentialResponse:
        verifier = tenants.acting_for(caller, request.verifier.tenant_id)
        result = await self._service.verify_credential(
            VerifyCredential(
                verifier,
                request.credential,
                _format(request.format),
                policy_from_proto(request.policy),
                _fresh_after(request),
                tuple(request.trusted_issuer_ids),
            )
        )
        response = pb.VerifyCredentialResponse(report=_report(result))
        if result.summaries:
            response.credential.CopyFrom(summary_to_proto(result.summaries[0], result.format))
        return response

    async def _presentation(
        self, caller: Tenant, request: pb.VerifyPresentationRequest
    ) -> pb.VerifyPresentationResponse:
        verifier = tenants.acting_for(caller, request.verifier.tenant_id)
        result = await self._service.verify_presentation(
            VerifyPresentation(
                verifier,
                request.presentation,
                request.expected_challenge,
                request.expected_domain,
                _format(request.format),
                policy_from_proto(request.policy),
                _fresh_after(request),
                tuple(request.trusted_issuer_ids),
            )
        )
        return pb.VerifyPresentationResponse(
            report=_report(result),
            holder_id=result.holder_id,
            credentials=[summary_to_proto(s, result.format) for s in result.summaries],
        )

    async def VerifyCredential(
        self, request: pb.VerifyCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyCredentialResponse:
        """See the proto."""
        return await self._credential(require_tenant(), request)

    async def VerifyPresentation(
        self, request: pb.VerifyPresentationRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyPresentationResponse:
        """See the proto."""
        return await self._presentation(require_tenant(), request)

    async def VerifyStream(
        self,
        request_iterator: AsyncIterator[pb.VerifyStreamRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.VerifyStreamResponse]:
        """Bulk verification: up to ``stream_concurrency`` items at once, answered as they finish.

        At most ``stream_max_pending`` items, and ``stream_max_pending_bytes`` of them (one item
        whatever its size), are read ahead of their responses; beyond that the server stops
        reading, so HTTP/2 flow control holds a client that does not read back. Many items in
        flight is what lets the service batch their work (offline checks on the workers, event
        commits) — the rate of a stream grows with it (bench/verification.py).
        """
        caller = require_tenant()
        results: asyncio.Queue[tuple[pb.VerifyStreamResponse, int] | None] = asyncio.Queue()
        room = asyncio.Semaphore(self._max_pending)
        budget = _ByteBudget(self._max_pending_bytes)
        workers = asyncio.Semaphore(self._concurrency)
        tasks: set[asyncio.Task[None]] = set()
        seen: set[str] = set()

        async def run(item: pb.VerifyStreamRequest, size: int) -> None:
            async with workers:
                await results.put((await self._stream_item(caller, item, seen), size))

        async def read() -> None:
            try:
                async for item in request_iterator:
                    size = item.ByteSize()
                    await room.acquire()
                    await budget.acquire(size)
                    task = asyncio.create_task(run(item, size))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                while tasks:
                    await asyncio.gather(*list(tasks))
            finally:
                await results.put(None)

        reader = asyncio.create_task(read())
        try:
            while (answered := await results.get()) is not None:
                response, size = answered
                yield response
                budget.release(size)
                room.release()
            await reader  # re-raise a transport error of the request stream
        finally:
            reader.cancel()
            for task in list(tasks):
                task.cancel()

    async def _stream_item(
        self, caller: Tenant, item: pb.VerifyStreamRequest, seen: set[str]
    ) -> pb.VerifyStreamResponse:
        cid = item.correlation_id
        response = pb.VerifyStreamResponse(correlation_id=cid)
        try:
            if not cid or len(cid) > MAX_CORRELATION_ID:
                raise InvalidRequest(
                    "correlation_id", f"is required, at most {MAX_CORRELATION_ID} characters"
                )
            if cid in seen:
                raise InvalidRequest("correlation_id", "is not unique within the stream")
            seen.add(cid)
            which = item.WhichOneof("item")
            if which == "credential":
                response.credential.CopyFrom(await self._credential(caller, item.credential))
            elif which == "presentation":
                response.presentation.CopyFrom(await self._presentation(caller, item.presentation))
            else:
                raise InvalidRequest("item", "one of credential or presentation is required")
        except DomainError as err:
            field = (
                err.violations[0].field
                if isinstance(err, InvalidArgument) and err.violations
                else ""
            )
            response.error.CopyFrom(
                error_pb2.ErrorDetail(
                    reason=err.reason, field=field, message=err.message, metadata=err.metadata
                )
            )
        except Exception:  # one bad item never ends the stream; details go to the log only
            log.exception("stream item failed unexpectedly")
            response.error.CopyFrom(
                error_pb2.ErrorDetail(
                    reason="INTERNAL", message="internal error verifying this item"
                )
            )
        return response

    # --- challenges and trust lists ---------------------------------------------------------

    async def CreateChallenge(
        self, request: pb.CreateChallengeRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateChallengeResponse:
        """See the proto."""
        verifier = tenants.acting_for(require_tenant(), request.verifier.tenant_id)
        ttl = request.ttl.ToTimedelta() if request.HasField("ttl") else None
        challenge = await challenges.create_challenge(
            self._uow_factory, verifier, request.domain, ttl, self._now()
        )
        return pb.CreateChallengeResponse(
            challenge=challenge.value,
            domain=challenge.domain,
            expires_at=timestamp(challenge.expires_at),
        )

    async def PutTrustedIssuer(
        self, request: pb.PutTrustedIssuerRequest, context: grpc.aio.ServicerContext
    ) -> pb.PutTrustedIssuerResponse:
        """See the proto."""
        verifier = tenants.acting_for(require_tenant(), request.verifier.tenant_id)
        entry = TrustedIssuer.create(
            request.issuer.issuer_id,
            request.issuer.name,
            request.issuer.accreditations,
            request.issuer.note,
        )
        stored, created = await trust.put_trusted_issuer(
            self._uow_factory, self._trust, verifier, entry, self._now()
        )
        return pb.PutTrustedIssuerResponse(issuer=_trusted_to_proto(stored), created=created)

    async def RemoveTrustedIssuer(
        self, request: pb.RemoveTrustedIssuerRequest, context: grpc.aio.ServicerContext
    ) -> pb.RemoveTrustedIssuerResponse:
        """See the proto."""
        verifier = tenants.acting_for(require_tenant(), request.verifier.tenant_id)
        await trust.remove_trusted_issuer(
            self._uow_factory, self._trust, verifier, request.issuer_id
        )
        return pb.RemoveTrustedIssuerResponse()

    async def ListTrustedIssuers(
        self, request: pb.ListTrustedIssuersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTrustedIssuersResponse:
        """See the proto."""
        verifier = tenants.acting_for(require_tenant(), request.verifier.tenant_id)
        page = await trust.list_trusted_issuers(
            self._uow_factory,
            verifier,
            page_size=request.page.page_size,
            page_token=request.page.page_token,
            accreditation=request.accreditation,
        )
        return pb.ListTrustedIssuersResponse(
            issuers=[_trusted_to_proto(i) for i in page.issuers],
            page=paging_pb2.PageResponse(next_page_token=page.next_page_token),
        )


def _report(result: Verification) -> verification_report_pb2.VerificationReport:
    return report_to_proto(
        result.report, verification_id=result.verification_id, verified_at=result.verified_at
    )


def register(servicer: VerificationServicer) -> Callable[[grpc.aio.Server], None]:
    """The registration callback for ``GrpcServer.add_service``."""
    return lambda server: pb_grpc.add_VerificationServiceServicer_to_server(servicer, server)
