"""The ``status`` check of an SD-JWT VC: its Token Status List entry (TSL §8.3).

Reported as the same ``status`` check, with the same outcome vocabulary and the same error-code
prefixes (``STATUS_RETRIEVAL_ERROR: ...``), as the Bitstring Status List path in
:mod:`ler_crypto.verifier.status`, so report consumers need no second mapping. A revoked
(INVALID) or suspended credential fails with "the credential is revoked/suspended (...)" and
``details["purpose"]`` set to ``revocation`` / ``suspension``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ler_crypto.report import Outcome, VerificationReport
from ler_crypto.status_list import StatusErrorKind
from ler_crypto.token_status_list import (
    StatusReference,
    TokenStatus,
    TokenStatusError,
    compact_jwt_text,
    parse_status_reference,
    verify_status_list_token,
)

if TYPE_CHECKING:
    from ler_crypto.verifier.options import StatusListFetcher, VerifyOptions

TITLE = "Not revoked or suspended"


def _fail(report: VerificationReport, kind: StatusErrorKind, message: str) -> None:
    report.add("status", TITLE, Outcome.FAIL, f"{kind.value}: {message}"[:600])


def token_text(raw: Any) -> str:
    """The compact JWT a status fetcher returned (bytes or text); anything else — parsed JSON,
    say, because the URI serves a Bitstring list — is a :class:`TokenStatusError`."""
    token = compact_jwt_text(raw)
    if token is not None:
        return token
    if isinstance(raw, str | bytes | bytearray | memoryview):
        raise TokenStatusError("the response is not a Status List Token (compact JWT)")
    raise TokenStatusError(
        f"the response is not a Status List Token (compact JWT) but {type(raw).__name__}"
    )


async def check_token_status(
    payload: dict[str, Any], iss: str | None, report: VerificationReport, opts: VerifyOptions
) -> None:
    """Add the ``status`` check for an SD-JWT VC's issuer-signed ``payload``."""
    if "status" not in payload:
        report.add("status", TITLE, Outcome.SKIPPED, "no status claim")
        return
    try:
        reference = parse_status_reference(payload["status"])
    except TokenStatusError as err:
        _fail(report, StatusErrorKind.MALFORMED_VALUE, str(err))
        return
    if reference is None:
        kinds = sorted(str(k) for k in payload["status"])
        report.add(
            "status",
            TITLE,
            Outcome.WARNING,
            f"status mechanism(s) {kinds} are not supported and were not checked"[:600],
        )
        return
    if opts.status_fetcher is None:
        # Same as the Bitstring path: offline verification says what it could not check.
        report.add(
            "status",
            TITLE,
            Outcome.WARNING,
            f"token status at {reference.uri} index {reference.idx} was not checked "
            "(no status list fetcher; offline)",
        )
        return
    await _check_reference(reference, iss, report, opts, opts.status_fetcher)


async def _check_reference(
    reference: StatusReference,
    iss: str | None,
    report: VerificationReport,
    opts: VerifyOptions,
    fetcher: StatusListFetcher,
) -> None:
    where = f"{reference.uri} index {reference.idx}"
    try:
        raw = await fetcher.fetch(reference.uri)
        token = token_text(raw)
    except Exception as err:  # any fetcher failure is a retrieval error (TSL §8.3 step 2)
        _fail(report, StatusErrorKind.STATUS_RETRIEVAL, f"cannot fetch {reference.uri}: {err}")
        return
    try:
        status_list = await verify_status_list_token(
            token,
            expected_uri=reference.uri,
            issuer=iss,
            resolver=opts.resolver,
            now=opts.moment().timestamp(),
            skew=opts.clock_skew.total_seconds(),
        )
    except TokenStatusError as err:
        _fail(report, StatusErrorKind.STATUS_VERIFICATION, str(err))
        return
    try:
        value = status_list.get(reference.idx)
    except TokenStatusError as err:
        # TSL §8.3 step 6: no statement can be made; the token SHOULD be rejected.
        _fail(report, StatusErrorKind.RANGE, str(err))
        return
    if value == TokenStatus.VALID:
        report.add("status", TITLE, Outcome.PASS, f"status is VALID ({where})")
    elif value == TokenStatus.INVALID:
        report.add(
            "status",
            TITLE,
            Outcome.FAIL,
            f"the credential is revoked (status INVALID at {where})",
            {"purpose": "revocation"},
        )
    elif value == TokenStatus.SUSPENDED:
        report.add(
            "status",
            TITLE,
            Outcome.FAIL,
            f"the credential is suspended (status SUSPENDED at {where})",
            {"purpose": "suspension"},
        )
    else:
        # TSL §7.1: 0x03 and 0x0C-0x0F are application specific, the rest unregistered;
        # neither says the credential is valid.
        report.add(
            "status",
            TITLE,
            Outcome.FAIL,
            f"the credential is not valid: status value {value:#04x} ({where})",
        )
