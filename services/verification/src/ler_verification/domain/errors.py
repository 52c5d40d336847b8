"""Errors of the verification domain, each named for what went wrong.

They subclass the platform's ``DomainError`` family (which imports no transport), so the
gRPC interceptor and the HTTP error middleware map them to status codes in one place each.
"""

from __future__ import annotations

from ler_platform.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)


class InputRejected(InvalidArgument):
    """The thing to verify cannot be examined at all (empty, or over the size limit)."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(
            f"{field}: {description}",
            violations=[FieldViolation(field, description)],
            reason="INVALID_ARGUMENT",
        )


class InvalidRequest(InvalidArgument):
    """A request field is missing or invalid (names the field)."""

    def __init__(self, field: str, description: str, *, reason: str = "INVALID_ARGUMENT") -> None:
        super().__init__(
            f"{field}: {description}",
            violations=[FieldViolation(field, description)],
            reason=reason,
        )


class NotYourVerifier(PermissionDenied):
    """A verifier's key named another verifier tenant in ``verifier``."""

    def __init__(self) -> None:
        super().__init__(
            "a verifier's API key may only act for its own tenant", reason="VERIFIER_MISMATCH"
        )


class TrustedIssuerNotFound(NotFound):
    """The issuer is not on the verifier's trust list."""

    def __init__(self, issuer_id: str) -> None:
        super().__init__(
            f"issuer {issuer_id[:200]!r} is not on the trust list",
            reason="TRUSTED_ISSUER_NOT_FOUND",
            metadata={"issuer_id": issuer_id[:200]},
        )


class TenantAlreadyExists(InvalidArgument):
    """A tenant with this id is already registered."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant {tenant_id!r} already exists", reason="TENANT_EXISTS")
