"""Errors of the wallet, each named for what went wrong.

They subclass the platform's ``DomainError`` family so that each transport maps them to a
status in exactly one place (``ler_platform.grpc_errors``; the share-link HTTP route maps them
to problem+json). ``WalletError`` is the marker base class of this package.
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


class WalletError(DomainError):
    """Base class of the wallet's own errors (mixed into each specific one)."""


class InvalidRequest(InvalidArgument, WalletError):
    """A request field is missing or malformed; the message names the field."""


class AccountNotFound(NotFound, WalletError):
    """No such account."""

    def __init__(self, account_id: str) -> None:
        super().__init__(
            f"account {account_id!r} does not exist", metadata={"account_id": account_id}
        )


class EmailTaken(AlreadyExists, WalletError):
    """Another account already uses this email."""

    def __init__(self) -> None:
        super().__init__("an account with this email already exists")


class CredentialNotFound(NotFound, WalletError):
    """The account holds no credential with this id."""

    def __init__(self, credential_id: str) -> None:
        super().__init__(
            f"the account holds no credential {credential_id!r}",
            metadata={"credential_id": credential_id},
        )


class ShareLinkNotFound(NotFound, WalletError):
    """The account has no share link with this id (or no link has this token)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"no share link {what}")


class UnsupportedCredential(InvalidArgument, WalletError):
    """The bytes are not a credential of a supported format."""


class CredentialRejected(FailedPrecondition, WalletError):
    """A credential failed verification on receipt, or is not issued to this learner."""

    def __init__(self, message: str, *, failed_check: str = "") -> None:
        super().__init__(message, reason="CREDENTIAL_REJECTED", metadata={"check": failed_check})


class CredentialUnusable(FailedPrecondition, WalletError):
    """The credential cannot be shared in its current state (e.g. revoked)."""


class ConfirmationMismatch(FailedPrecondition, WalletError):
    """DeleteAccount's ``confirm`` does not repeat the account id."""

    def __init__(self) -> None:
        super().__init__("confirm must equal the account id to delete the account")


class ShareLinkUnavailable(FailedPrecondition, WalletError):
    """A share link was resolved after its expiry, view limit or revocation (access logged)."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message, reason=f"SHARE_LINK_{outcome.upper()}")
        self.outcome = outcome


class NotYourAccount(PermissionDenied, WalletError):
    """The caller acts on an account other than its own."""

    def __init__(self) -> None:
        super().__init__("this API key may only act on its own account")


class NotAuthenticated(Unauthenticated, WalletError):
    """No or invalid credentials."""


class AudienceMismatch(PermissionDenied, WalletError):
    """A share link restricted to one verifier was resolved by someone else (access logged)."""

    def __init__(self) -> None:
        super().__init__("this share link is restricted to another verifier")
        self.outcome = "denied_audience"


class NotImplementedYet(WalletError):
    """An RPC the wallet does not offer yet (mapped to UNIMPLEMENTED by the servicer)."""


class OfferRefused(FailedPrecondition, WalletError):
    """The issuer refused the offer: expired, already redeemed, wrong transaction code, or it
    would not deliver the credential."""


class IssuerUnreachable(WalletError):
    """The issuer of an offer cannot be reached; retry later (mapped to UNAVAILABLE)."""


class VerifierRefused(FailedPrecondition, WalletError):
    """The verifier rejected the wallet's OpenID4VP response."""


class VerifierUnreachable(WalletError):
    """A verifier's request_uri or response_uri cannot be reached; retry later (mapped to
    UNAVAILABLE)."""


class NoMatchingCredential(InvalidArgument, WalletError):
    """A chosen credential does not answer the verifier's credential query."""


class OpportunityLookupUnavailable(FailedPrecondition, WalletError):
    """Planning for an intake opportunity needs the intake service, which is not configured."""


class OpportunityNotFound(NotFound, WalletError):
    """The intake service has no open opportunity with this id."""

    def __init__(self, opportunity_id: str) -> None:
        super().__init__(
            f"no open opportunity {opportunity_id!r} at the intake service",
            metadata={"opportunity_id": opportunity_id},
        )


class DependencyUnreachable(WalletError):
    """The intake or issuance service cannot be reached (mapped to UNAVAILABLE)."""
