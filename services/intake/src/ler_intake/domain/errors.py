"""Errors of the intake service, each named for what went wrong.

They subclass the platform's ``DomainError`` family so that each transport maps them to a
status in exactly one place (``ler_platform.grpc_errors``). ``IntakeError`` is the marker base
class of this package.
"""

from __future__ import annotations

from ler_platform.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)


class IntakeError(DomainError):
    """Base class of the intake service's own errors."""


class InvalidRequest(InvalidArgument, IntakeError):
    """A request field is missing or malformed; the message names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}", metadata={"field": field})
        self.field = field


class ProviderNotFound(NotFound, IntakeError):
    """No such provider."""

    def __init__(self, provider_id: str) -> None:
        super().__init__(f"provider {provider_id!r} does not exist")


class DomainTaken(AlreadyExists, IntakeError):
    """Another provider already registered this domain."""

    def __init__(self, domain: str) -> None:
        super().__init__(f"the domain {domain!r} is already registered")


class OpportunityNotFound(NotFound, IntakeError):
    """No such opportunity (or not one the caller may see)."""

    def __init__(self, opportunity_id: str) -> None:
        super().__init__(f"opportunity {opportunity_id!r} does not exist")


class OpportunityClosed(FailedPrecondition, IntakeError):
    """The opportunity does not take applications."""

    def __init__(self, opportunity_id: str) -> None:
        super().__init__(f"opportunity {opportunity_id!r} is closed", reason="OPPORTUNITY_CLOSED")


class ApplicationNotFound(NotFound, IntakeError):
    """The provider has no such application."""

    def __init__(self, application_id: str) -> None:
        super().__init__(f"application {application_id!r} does not exist")


class IdempotencyKeyReused(AlreadyExists, IntakeError):
    """An idempotency key was used before for a different submission."""

    def __init__(self) -> None:
        super().__init__(
            "idempotency_key was already used for a different submission",
            reason="IDEMPOTENCY_KEY_REUSED",
        )


class ShareLinkUnresolvable(FailedPrecondition, IntakeError):
    """A wallet share link could not be resolved (expired, revoked, refused or malformed)."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"the share link does not resolve: {problem}", reason="SHARE_LINK_UNRESOLVED"
        )


class NotAuthenticated(Unauthenticated, IntakeError):
    """No or invalid API key."""


class NotAllowed(PermissionDenied, IntakeError):
    """The caller's role may not make this call."""


class VerificationUnavailable(IntakeError):
    """The verification service could not be reached in time (retry later)."""
