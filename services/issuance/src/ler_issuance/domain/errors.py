"""Domain errors of the issuance service, named for what went wrong.

They subclass the platform's ``DomainError`` family, so each transport maps them to its status
codes in one place. Messages name the problem and never carry secrets.
"""

from __future__ import annotations

from collections.abc import Sequence

from ler_platform.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)


class InvalidSpec(InvalidArgument):
    """A credential spec (or another request) is invalid; ``violations`` name the fields."""

    default_reason = "INVALID_SPEC"

    def __init__(self, violations: Sequence[FieldViolation]) -> None:
        first = violations[0] if violations else FieldViolation("", "invalid request")
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        super().__init__(f"{first.field}: {first.description}{more}", violations=violations)


class IssuerNotFound(NotFound):
    """No issuer with that id (or the caller may not know it)."""

    default_reason = "ISSUER_NOT_FOUND"

    def __init__(self, issuer_id: str) -> None:
        super().__init__(f"issuer {issuer_id!r} not found", metadata={"issuer_id": issuer_id})


class IssuerAlreadyExists(AlreadyExists):
    """An issuer with the same DID is already registered."""

    default_reason = "ISSUER_ALREADY_EXISTS"


class TemplateNotFound(NotFound):
    """The issuer has no such achievement template."""

    default_reason = "TEMPLATE_NOT_FOUND"

    def __init__(self, template_id: str) -> None:
        super().__init__(
            f"achievement template {template_id!r} not found", metadata={"template_id": template_id}
        )


class TemplateAlreadyExists(AlreadyExists):
    """The issuer already has a template for that achievement id."""

    default_reason = "TEMPLATE_ALREADY_EXISTS"


class CredentialNotFound(NotFound):
    """The issuer has no such credential."""

    default_reason = "CREDENTIAL_NOT_FOUND"

    def __init__(self, credential_id: str) -> None:
        super().__init__(
            f"credential {credential_id!r} not found", metadata={"credential_id": credential_id}
        )


class RecordNotIssued(NotFound):
    """A streamed CLR references a record id under which the issuer has issued nothing."""

    default_reason = "RECORD_NOT_ISSUED"

    def __init__(self, record_id: str, field: str) -> None:
        super().__init__(
            f"{field}: nothing has been issued under record id {record_id!r} (yet); send the CLR"
            " after that record's result",
            metadata={"record_id": record_id},
        )


class RecordIdConflict(AlreadyExists):
    """The record id was already used for a different spec."""

    default_reason = "RECORD_ID_CONFLICT"

    def __init__(self, record_id: str, credential_id: str) -> None:
        super().__init__(
            f"record id {record_id!r} was already issued with different content"
            f" (credential {credential_id}); a record id never yields two credentials",
            metadata={"record_id": record_id, "credential_id": credential_id},
        )


class CannotRotate(FailedPrecondition):
    """The issuer's DID method cannot rotate keys (did:key)."""

    default_reason = "KEY_ROTATION_UNSUPPORTED"


class StatusTransitionNotAllowed(FailedPrecondition):
    """The status change is not allowed from the credential's current state."""

    default_reason = "STATUS_TRANSITION_NOT_ALLOWED"


class CredentialRevoked(FailedPrecondition):
    """The credential is revoked, which forbids the operation."""

    default_reason = "CREDENTIAL_REVOKED"


class StatusListsFull(ResourceExhausted):
    """The issuer's status lists have no free index left."""

    default_reason = "STATUS_LISTS_FULL"


class BatchTooLarge(ResourceExhausted):
    """A batch exceeded the item limit."""

    default_reason = "BATCH_TOO_LARGE"


class NotYourIssuer(PermissionDenied):
    """The request names an issuer other than the authenticated tenant."""

    default_reason = "ISSUER_MISMATCH"

    def __init__(self) -> None:
        super().__init__("issuer_id does not name the authenticated tenant")


class OperatorOnly(PermissionDenied):
    """Only an operator may do this."""

    default_reason = "OPERATOR_ONLY"

    def __init__(self) -> None:
        super().__init__("only an operator may register issuers")


class InvalidClient(Unauthenticated):
    """Client credentials or a bearer token are missing, invalid or expired."""

    default_reason = "INVALID_CLIENT"


class OfferNotRedeemable(FailedPrecondition):
    """A credential offer or its pre-authorized code is unknown, used or expired."""

    default_reason = "OFFER_NOT_REDEEMABLE"


def invalid(field: str, description: str) -> InvalidSpec:
    """An ``InvalidSpec`` for one field."""
    return InvalidSpec([FieldViolation(field, description)])


class StatusListNotFound(NotFound):
    """No such status list."""

    default_reason = "STATUS_LIST_NOT_FOUND"

    def __init__(self, list_id: str) -> None:
        super().__init__(f"status list {list_id!r} not found")
