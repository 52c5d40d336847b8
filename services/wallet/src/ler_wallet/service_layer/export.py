"""Use case: export the learner's records (LER-RS resume with credentials, or a ZIP)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ler_platform.errors import ResourceExhausted

from ler_wallet.domain.errors import InvalidRequest
from ler_wallet.domain.resume import credentials_zip, resume_document
from ler_wallet.domain.skills import build_profile
from ler_wallet.service_layer.accounts import load_account
from ler_wallet.service_layer.context import Context
from ler_wallet.service_layer.curation import curation_order

MAX_EXPORT_BYTES = 64 * 1024 * 1024
FORMATS = ("ler_rs_json", "credentials_zip")


@dataclass(frozen=True)
class Export:
    """The exported file."""

    content: bytes
    media_type: str
    filename: str


async def export_records(
    ctx: Context,
    account_id: str,
    fmt: str,
    *,
    include_hidden: bool,
    include_self_asserted: bool,
) -> Export:
    """Every held credential untouched, plus (LER-RS) the skills profile and resume."""
    if fmt not in FORMATS:
        raise InvalidRequest(f"format must be one of {FORMATS}")
    now = ctx.clock()
    async with ctx.uow() as uow:
        account = await load_account(uow, account_id)
        credentials = curation_order(await uow.credentials.for_account(account_id))
        asserted = await uow.skills.for_account(account_id) if include_self_asserted else []
    chosen = [c for c in credentials if include_hidden or not c.curation.hidden]
    day = now.date().isoformat()
    if fmt == "credentials_zip":
        export = Export(credentials_zip(chosen), "application/zip", f"ler-credentials-{day}.zip")
    else:
        document = resume_document(account, chosen, build_profile(chosen, asserted), now)
        export = Export(
            json.dumps(document, indent=2, ensure_ascii=False).encode(),
            "application/json",
            f"ler-resume-{day}.json",
        )
    if len(export.content) > MAX_EXPORT_BYTES:
        raise ResourceExhausted("the export would exceed the 64 MiB response limit")
    return export
