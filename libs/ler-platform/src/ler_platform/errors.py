"""The one exception hierarchy of ``ler_platform``.

``LerError`` is the library's base class. ``DomainError`` and its subclasses are what
service code raises for things that went wrong *for the caller* (a credential that does
not exist, an argument that is invalid); each transport maps them to its status codes in
exactly one place (``ler_platform.grpc_errors`` for gRPC, ``ler_platform.http_errors``
for HTTP). The classes here import no transport library so the domain layer can use them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class LerError(Exception):
    """Base class of every exception raised by ``ler_platform``."""


class ConfigurationError(LerError):
    """A setting is missing or inconsistent; raised at start-up, never at request time."""


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field of a request (mirrors ``google.rpc.BadRequest.FieldViolation``)."""

    field: str
    description: str


class DomainError(LerError):
    """An error the caller can understand and act on.

    ``message`` is shown to the caller, so it must name the problem without leaking
    internals or secrets. ``reason`` is a stable UPPER_SNAKE_CASE identifier for machines
    (``google.rpc.ErrorInfo.reason``); ``metadata`` adds context such as the id that was not
    found.
    """

    default_reason = "DOMAIN_ERROR"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})


class NotFound(DomainError):
    """The addressed resource does not exist (or the caller may not know it exists)."""

    default_reason = "NOT_FOUND"


class AlreadyExists(DomainError):
    """A resource with the same identity already exists."""

    default_reason = "ALREADY_EXISTS"


class InvalidArgument(DomainError):
    """The request is malformed; ``violations`` says which fields and why."""

    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        *,
        violations: Sequence[FieldViolation] = (),
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations = tuple(violations)


class PermissionDenied(DomainError):
    """The authenticated caller may not do this."""

    default_reason = "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    """The caller did not present valid credentials."""

    default_reason = "UNAUTHENTICATED"


class FailedPrecondition(DomainError):
    """The system is not in a state that allows the operation (e.g. credential revoked)."""

    default_reason = "FAILED_PRECONDITION"


class ResourceExhausted(DomainError):
    """A size or rate limit was exceeded."""

    default_reason = "RESOURCE_EXHAUSTED"
