"""Credential verification in two phases: an offline one and an online one.

``verify_credential`` runs VERIFY-CHECKLIST.md in order. The first part of it — parse the
input, the VC data model (with the JSON-LD data-loss check) and the OB 3.0 / CLR 2.0 profile —
needs no resolver, no fetcher, no trust list and no clock: it is CPU work on the document
alone, most of a verification's cost. :func:`prepare_credential` runs that part, synchronously,
and returns a :class:`PreparedCredential` made of plain data only (the parsed JSON, the report
so far), so that a caller may run it on another process and send the result back by pickle.
:func:`complete_credential` runs the rest (proofs, issuer key, trust, validity, status) in the
same order as before. ``verify_credential`` is exactly the two, one after the other.

Given the verification time (``proofs_as_of``), the offline phase goes one step further when
it can: if every DID the proofs and the issuer name is ``did:key`` or ``did:jwk`` — DIDs whose
documents are derived from the DID itself, with no network — the proofs and the issuer key
are checked offline too (``Stage.KEYS``), and the online phase starts at trust.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ler_crypto import vc_model
from ler_crypto.contexts import ContextLoader
from ler_crypto.did import DidResolver
from ler_crypto.errors import CryptoError
from ler_crypto.report import Outcome, VerificationReport
from ler_crypto.sdjwt.vc_report import verify_sd_jwt_vc
from ler_crypto.vc_model import Policy
from ler_crypto.verifier.checks import (
    check_data_model,
    check_issuer_key,
    check_profile,
    check_proofs,
    check_trust,
    check_validity,
    parse_input,
)
from ler_crypto.verifier.options import VC_PURPOSE, StatusListFetcher, VerifyOptions, short
from ler_crypto.verifier.status import check_status


class Stage(enum.StrEnum):
    """How far the offline phase took a credential, i.e. what the online phase has left."""

    #: the report is final: malformed input, or an error that ends the run (``internal``)
    DONE = "done"
    #: a compact JWT (SD-JWT VC): nothing prepared, the online phase verifies it whole
    SD_JWT = "sd-jwt"
    #: a JSON credential whose data model and profile were checked: proofs onwards remain
    DOCUMENT = "document"
    #: as ``DOCUMENT``, and its proofs and issuer key were checked too (every DID involved
    #: resolves offline): trust onwards remain
    KEYS = "keys"


@dataclass
class PreparedCredential:
    """The outcome of :func:`prepare_credential`: plain data, cheap to pickle.

    ``document`` is the parsed JSON object (``Stage.DOCUMENT``), ``jwt`` the compact
    serialization (``Stage.SD_JWT``); ``report`` holds the checks run so far.
    """

    stage: Stage
    report: VerificationReport
    document: dict[str, Any] | None = None
    jwt: str | None = None


def default_policy(policy: Policy | None) -> Policy:
    """The policy a verification runs with when the caller states none (VC 1.1 accepted)."""
    return policy or Policy(allow_v1=True)


def prepare_document(doc: dict[str, Any], report: VerificationReport, opts: VerifyOptions) -> None:
    """The offline checks of one parsed credential: who it names, data model, profile.

    Uses only ``opts.policy`` and ``opts.loader``."""
    report.subject = doc.get("id") if isinstance(doc.get("id"), str) else None
    report.issuer = vc_model.issuer_id(doc)
    generic = check_data_model(doc, report, opts, presentation=False)
    check_profile(doc, report, opts, generic=generic)


async def check_keys(doc: dict[str, Any], report: VerificationReport, opts: VerifyOptions) -> None:
    """Checklist order: the proofs, then whether the issuer controls their keys."""
    await check_proofs(doc, report, opts, purpose=VC_PURPOSE)
    await check_issuer_key(doc, report, opts)


async def complete_document(
    doc: dict[str, Any],
    report: VerificationReport,
    opts: VerifyOptions,
    *,
    secured_by: str | None = None,
    keys_checked: bool = False,
) -> None:
    """The online checks of one credential (after :func:`prepare_document`), in checklist
    order: proofs, issuer key, trust, validity, status (from trust on when ``keys_checked``)."""
    if secured_by is not None and "proof" not in doc:
        report.add(
            "proof",
            "Data Integrity proof",
            Outcome.PASS,
            f"self-asserted: secured by the presentation's proof from {secured_by}",
        )
    elif not keys_checked:
        await check_keys(doc, report, opts)
    check_trust(report.issuer, report, opts)
    check_validity(doc, report, opts)
    await check_status(doc, report, opts)


def _internal_error(report: VerificationReport, err: CryptoError) -> None:
    # Defensive: every step reports its own errors; anything left is still a failed check.
    report.add("internal", "Verification completed", Outcome.FAIL, short(str(err)))


#: DID methods whose documents are derived from the DID alone (no network, no state)
_OFFLINE_DID_METHODS = ("did:key:", "did:jwk:")
#: the offline phase's resolver, shared so that its memo of decoded keys serves every call
_OFFLINE_RESOLVER = DidResolver(offline=True)


def _keys_resolve_offline(doc: dict[str, Any], issuer: str | None) -> bool:
    """True when every DID that checking the proofs and the issuer key would resolve (each
    proof's verification method, a DID ``issuer``) is ``did:key`` or ``did:jwk``."""
    if issuer and issuer.startswith("did:") and not issuer.startswith(_OFFLINE_DID_METHODS):
        return False
    for proof in vc_model.as_list(doc.get("proof", [])):
        method = proof.get("verificationMethod") if isinstance(proof, dict) else None
        if isinstance(method, str) and not method.startswith(_OFFLINE_DID_METHODS):
            return False
    return True


def _checked_without_io(
    doc: dict[str, Any], report: VerificationReport, opts: VerifyOptions
) -> bool:
    """Run :func:`check_keys` to its end here, synchronously: with only offline DIDs it never
    waits for anything. Should it ever suspend, it is abandoned, its entries are taken back
    and False returned: the online phase then runs it as usual."""
    before = len(report.checks)
    run = check_keys(doc, report, opts)
    try:
        run.send(None)
    except StopIteration:
        return True
    run.close()
    del report.checks[before:]
    return False


def prepare_credential(
    doc_or_jwt: Any,
    *,
    policy: Policy | None = None,
    loader: ContextLoader | None = None,
    proofs_as_of: datetime | None = None,
) -> PreparedCredential:
    """The offline phase of :func:`~ler_crypto.verifier.verify_credential` (see the module
    docstring). Never raises for bad input: what it finds is in the returned report.

    ``loader`` serves the JSON-LD contexts (default: the bundled ones); run in another
    process, leave it ``None`` there and pass the same ``None`` to the online phase.
    ``proofs_as_of``: the verification time (pass the same ``now`` to the online phase); when
    given, the proofs and issuer key are checked here too if no DID involved needs the network.
    """
    # Only the policy, the loader and the time matter offline; the resolver never goes online.
    opts = VerifyOptions(
        _OFFLINE_RESOLVER, loader=loader, now=proofs_as_of, policy=default_policy(policy)
    )
    report = VerificationReport(kind="credential")
    try:
        doc = parse_input(doc_or_jwt, report)
        if doc is None:
            return PreparedCredential(Stage.DONE, report)
        if isinstance(doc, str):
            return PreparedCredential(Stage.SD_JWT, report, jwt=doc)
        prepare_document(doc, report, opts)
        if (
            proofs_as_of is not None
            and _keys_resolve_offline(doc, report.issuer)  # set by prepare_document
            and _checked_without_io(doc, report, opts)
        ):
            return PreparedCredential(Stage.KEYS, report, document=doc)
    except CryptoError as err:
        _internal_error(report, err)
        return PreparedCredential(Stage.DONE, report)
    return PreparedCredential(Stage.DOCUMENT, report, document=doc)


async def complete_credential(
    prepared: PreparedCredential,
    *,
    resolver: DidResolver,
    status_fetcher: StatusListFetcher | None = None,
    loader: ContextLoader | None = None,
    now: datetime | None = None,
    clock_skew: timedelta = timedelta(seconds=60),
    trusted_issuers: Collection[str] | None = None,
    policy: Policy | None = None,
    challenge: str | None = None,
    domain: str | None = None,
) -> VerificationReport:
    """The online phase: finish what :func:`prepare_credential` began and return the report.

    Pass the ``policy`` and ``loader`` the offline phase used. ``prepared`` is consumed: its
    report is the one returned. For an SD-JWT VC, ``challenge``/``domain`` are the expected
    key-binding ``nonce``/``aud``. Never raises for bad input.
    """
    opts = VerifyOptions(
        resolver,
        status_fetcher,
        loader,
        now,
        clock_skew,
        trusted_issuers,
        default_policy(policy),
    )
    report = prepared.report
    try:
        if prepared.stage is Stage.SD_JWT and prepared.jwt is not None:
            report.kind = "sd-jwt-vc"
            await verify_sd_jwt_vc(prepared.jwt, report, opts, nonce=challenge, audience=domain)
        elif prepared.stage in (Stage.DOCUMENT, Stage.KEYS) and prepared.document is not None:
            keys_checked = prepared.stage is Stage.KEYS
            await complete_document(prepared.document, report, opts, keys_checked=keys_checked)
    except CryptoError as err:
        _internal_error(report, err)
    return report
