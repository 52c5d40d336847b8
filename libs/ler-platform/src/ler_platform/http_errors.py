"""The one place where domain errors become HTTP status codes (problem+json, RFC 9457).

The HTTP twin of ``ler_platform.grpc_errors``: each service builds its own problem document
(type URIs, extra members), but the status for a ``DomainError`` is decided here, so the same
error means the same status whichever service's API returns it.
"""

from __future__ import annotations

from ler_platform.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)

# the most specific first: a subclass must come before its base
_STATUSES: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidArgument, 400),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (AlreadyExists, 409),
    (FailedPrecondition, 409),
    # too large a request or batch (RFC 9110 §15.5.14); never 429, which asks to retry later
    (ResourceExhausted, 413),
)


def http_status_for(error: DomainError) -> int:
    """The HTTP status of ``error``; 409 (a conflict with the resource's state) for a domain
    error of no listed kind."""
    return next((status for cls, status in _STATUSES if isinstance(error, cls)), 409)
