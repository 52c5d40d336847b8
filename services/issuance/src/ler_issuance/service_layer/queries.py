"""Reading an issuer's credentials."""

from __future__ import annotations

from ler_issuance.domain.errors import CredentialNotFound, invalid
from ler_issuance.domain.model import CredentialRecord
from ler_issuance.service_layer.context import Context
from ler_issuance.service_layer.paging import (
    decode_token,
    encode_token,
    filters_digest,
    page_size,
)
from ler_issuance.service_layer.unit_of_work import CredentialFilter


async def get_credential(ctx: Context, issuer_id: str, credential_id: str) -> CredentialRecord:
    """One of the issuer's credentials (NOT_FOUND for anyone else's)."""
    async with ctx.uow() as uow:
        record = await uow.credentials.get(issuer_id, credential_id)
    if record is None:
        raise CredentialNotFound(credential_id)
    return record


async def list_credentials(
    ctx: Context,
    issuer_id: str,
    flt: CredentialFilter,
    *,
    size: int,
    token: str,
    include_signed: bool,
) -> tuple[list[CredentialRecord], str]:
    """A page of the issuer's credentials, newest first, and the next page token."""
    if flt.issued_after and flt.issued_before and flt.issued_after > flt.issued_before:
        raise invalid("issued_after", "must not be after issued_before")
    limit = page_size(size)
    digest = filters_digest(issuer_id, flt)
    after = decode_token(token, digest)
    async with ctx.uow() as uow:
        rows = await uow.credentials.page(
            issuer_id, flt, after=after, limit=limit + 1, include_signed=include_signed
        )
    page = rows[:limit]
    next_token = (
        encode_token((page[-1].issued_at, page[-1].credential_id), digest)
        if len(rows) > limit
        else ""
    )
    return page, next_token
