"""VC-API ``POST /credentials/issue``: sign a posted OB 3.0 credential for the tenant.

The posted credential's ``issuer`` is replaced by the tenant's profile (a tenant can only
issue as itself), status entries are added, and the result must pass the OB 3.0 checks before
it is signed. Idempotent on ``options.recordId`` (default: the credential's ``id``) exactly like
IssueCredential: same document → same credential, different document → RECORD_ID_CONFLICT.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import orjson
from ler_crypto.canon.jcs import canonicalize
from ler_crypto.errors import CryptoError
from ler_crypto.obv3 import check_achievement_credential
from ler_crypto.vc_model import DataModelError

from ler_issuance.domain.credentials import status_entries_json
from ler_issuance.domain.errors import IssuerNotFound, RecordIdConflict, invalid
from ler_issuance.domain.events import CredentialIssued
from ler_issuance.domain.model import (
    CredentialFormat,
    CredentialKind,
    CredentialRecord,
    CredentialState,
    Cryptosuite,
    Subject,
)
from ler_issuance.domain.validation import record_id_violations
from ler_issuance.service_layer.context import Context
from ler_issuance.service_layer.issuing import MEDIA_TYPE_LDP
from ler_issuance.service_layer.status import allocate_entries


def _record_id(credential: dict[str, Any], options: dict[str, Any]) -> str:
    record_id = options.get("recordId", credential.get("id"))
    if not isinstance(record_id, str):
        raise invalid("options.recordId", "is required (or give the credential an id)")
    violations = record_id_violations(record_id, "options.recordId")
    if violations:
        raise invalid(violations[0].field, violations[0].description)
    return record_id


def _suite(options: dict[str, Any], default: Cryptosuite) -> Cryptosuite:
    value = options.get("cryptosuite")
    if value is None:
        return default
    try:
        return Cryptosuite(value)
    except ValueError as err:
        raise invalid("options.cryptosuite", f"unsupported cryptosuite {value!r}") from err


async def issue_document(
    ctx: Context, issuer_id: str, credential: Any, options: Any
) -> tuple[CredentialRecord, bool]:
    """Sign ``credential`` as the tenant; returns the record and whether it was a replay."""
    if not isinstance(credential, dict):
        raise invalid("credential", "must be a JSON object")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise invalid("options", "must be a JSON object")
    if "proof" in credential:
        raise invalid("credential.proof", "must be absent: the service signs the credential")
    record_id = _record_id(credential, options)
    try:
        fingerprint = hashlib.sha256(canonicalize(credential)).hexdigest()
    except CryptoError as err:
        raise invalid("credential", str(err)) from err
    async with ctx.uow() as uow:
        issuer = await uow.issuers.get(issuer_id)
        if issuer is None:
            raise IssuerNotFound(issuer_id)
        earlier = (await uow.credentials.by_record_ids(issuer_id, [record_id])).get(record_id)
        if earlier is not None:
            if earlier.fingerprint != fingerprint:
                raise RecordIdConflict(record_id, earlier.credential_id)
            return earlier, True
        suite = _suite(options, issuer.default_cryptosuite)
        document = dict(credential)
        document.setdefault("id", f"urn:uuid:{uuid.uuid4()}")
        if not isinstance(document["id"], str) or len(document["id"]) > 255:
            raise invalid("credential.id", "must be a URL of at most 255 characters")
        document["issuer"] = issuer.profile()
        (entries,) = await allocate_entries(ctx, uow, issuer, 1)
        document["credentialStatus"] = status_entries_json(entries)
        try:
            check_achievement_credential(document)
        except DataModelError as err:
            raise invalid("credential", f"not a valid Open Badges 3.0 credential: {err}") from err
        try:
            signed = ctx.sign(document, issuer, suite, None)
        except CryptoError as err:
            raise invalid("credential", f"cannot be signed: {err}") from err
        subject = document.get("credentialSubject")
        subject = subject if isinstance(subject, dict) else {}
        achievement = subject.get("achievement") if isinstance(subject, dict) else None
        achievement = achievement if isinstance(achievement, dict) else {}
        now = ctx.now()
        record = CredentialRecord(
            credential_id=str(document["id"]),
            issuer_id=issuer_id,
            issuer_did=issuer.did,
            record_id=record_id,
            fingerprint=fingerprint,
            subject=Subject(did=str(subject.get("id", ""))),
            kind=CredentialKind.ACHIEVEMENT,
            format=CredentialFormat.LDP_VC,
            cryptosuite=suite,
            template_id="",
            achievement_name=str(achievement.get("name", document.get("name", ""))),
            achievement_type=str(achievement.get("achievementType", "")),
            skills=(),
            status=CredentialState.ACTIVE,
            status_reason="",
            status_entries=entries,
            issued_at=now,
            valid_from=now,
            valid_until=None,
            signed_credential=orjson.dumps(signed),
            media_type=MEDIA_TYPE_LDP,
        )
        await uow.credentials.add_many([record])
        uow.publish(CredentialIssued(record))
    return record, False
