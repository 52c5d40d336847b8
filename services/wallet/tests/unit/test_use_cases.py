"""Use cases over the fake unit of work: real keys, real signatures, real verification."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from ler_crypto.did import DidResolver
from ler_crypto.kms import KeyEncryptionKey
from ler_crypto.sdjwt import parse_sd_jwt
from ler_crypto.verifier.api import verify_presentation
from ler_wallet.adapters.keystore import EnvelopeHolderKeys
from ler_wallet.domain import events
from ler_wallet.domain.errors import (
    AudienceMismatch,
    ConfirmationMismatch,
    CredentialRejected,
    CredentialUnusable,
    EmailTaken,
    InvalidRequest,
    NotAuthenticated,
    ShareLinkUnavailable,
    UnsupportedCredential,
)
from ler_wallet.domain.model import AccessOutcome, Curation, Skill, StatusState
from ler_wallet.service_layer import accounts, curation, export, receiving, sharing
from ler_wallet.service_layer.context import Context
from wallet_fakes import FakeStore
from wallet_helpers import SQL, Issuer, sd_jwt_plaintext


async def _learner(ctx: Context, email: str = "ada@example.org") -> accounts.NewAccount:
    return await accounts.create_account(ctx, "Ada", email)


async def test_account_keeps_only_hashes_and_encrypted_keys(ctx: Context, store: FakeStore) -> None:
    new = await _learner(ctx)
    stored = store.accounts[new.account.account_id]
    assert new.api_key not in repr(stored) and new.api_key != stored.api_key_hash
    assert new.api_key not in repr(new)
    pair = ctx.keys.open(stored.encrypted_holder_key)
    assert pair.private_bytes() not in stored.encrypted_holder_key
    assert stored.holder_did.startswith("did:key:z6Mk")
    assert (await accounts.authenticate(ctx, new.api_key)).account_id == stored.account_id
    with pytest.raises(NotAuthenticated):
        await accounts.authenticate(ctx, "lwk_wrong")
    with pytest.raises(EmailTaken):
        await _learner(ctx, "ADA@example.org")
    with pytest.raises(InvalidRequest, match="email"):
        await accounts.create_account(ctx, "X", "not-an-email")


async def test_idempotent_create_rotates_the_key(ctx: Context) -> None:
    first = await accounts.create_account(ctx, "Bo", "bo@example.org", "k1")
    again = await accounts.create_account(ctx, "Bo", "bo@example.org", "k1")
    assert again.account.account_id == first.account.account_id
    with pytest.raises(NotAuthenticated):
        await accounts.authenticate(ctx, first.api_key)
    await accounts.authenticate(ctx, again.api_key)


async def test_import_verifies_dedupes_and_rejects(ctx: Context, store: FakeStore) -> None:
    new = await _learner(ctx)
    acc = new.account
    issuer = Issuer()
    vc = issuer.badge(acc.holder_did)
    got = await receiving.import_credential(ctx, acc.account_id, vc)
    assert not got.already_present and got.credential.verified
    assert got.credential.signed == vc
    assert got.credential.receipt_report["verified"] is True
    again = await receiving.import_credential(ctx, acc.account_id, vc)
    assert again.already_present
    assert sum(isinstance(e, events.CredentialStored) for e in store.events) == 1
    tampered = json.loads(vc)
    tampered["credentialSubject"]["achievement"]["name"] = "Forged"
    tampered["id"] = "urn:uuid:other"
    with pytest.raises(CredentialRejected, match="verification"):
        await receiving.import_credential(ctx, acc.account_id, json.dumps(tampered).encode())
    with pytest.raises(CredentialRejected, match="subject"):
        await receiving.import_credential(
            ctx,
            acc.account_id,
            issuer.badge("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"),
        )
    with pytest.raises(UnsupportedCredential):
        await receiving.import_credential(ctx, acc.account_id, b"hello")
    assert len(store.credentials) == 1


async def test_status_curation_and_skills_profile(ctx: Context) -> None:
    acc = (await _learner(ctx)).account
    issuer = Issuer()
    a = (
        await receiving.import_credential(ctx, acc.account_id, issuer.badge(acc.holder_did))
    ).credential
    b = (
        await receiving.import_credential(
            ctx, acc.account_id, issuer.badge(acc.holder_did, name="Databases", skills=(SQL,))
        )
    ).credential
    await curation.add_self_asserted_skill(
        ctx, acc.account_id, Skill("Teamwork", url="https://example.org/skills/teamwork"), "I lead"
    )
    profile = await curation.skills_profile(ctx, acc.account_id)
    assert [(p.skill.label, p.source) for p in profile] == [
        ("Python", "credential"),
        ("SQL", "credential"),
        ("Teamwork", "self_asserted"),
    ]
    assert profile[0].credential_ids == [a.credential_id]
    async with ctx.uow() as uow:
        await receiving.apply_status_change(uow, b.credential_id, StatusState.REVOKED)
        await receiving.apply_status_change(uow, b.credential_id, StatusState.ACTIVE)
    held = await curation.get_credential(ctx, acc.account_id, b.credential_id)
    assert held.status is StatusState.REVOKED  # revocation is final
    labels = [p.skill.label for p in await curation.skills_profile(ctx, acc.account_id)]
    assert "SQL" not in labels
    await curation.curate_credential(
        ctx, acc.account_id, a.credential_id, Curation(hidden=True, tags=("data",)), ["hidden"]
    )
    listed = await curation.list_credentials(ctx, acc.account_id, curation.CredentialFilter())
    assert [c.credential_id for c in listed] == [b.credential_id]
    with pytest.raises(InvalidRequest, match="update_mask"):
        await curation.curate_credential(ctx, acc.account_id, a.credential_id, Curation(), ["x"])
    with pytest.raises(InvalidRequest, match="tags"):
        await curation.curate_credential(
            ctx, acc.account_id, a.credential_id, Curation(tags=tuple(f"t{i}" for i in range(21)))
        )
    with pytest.raises(CredentialUnusable):
        await sharing.create_presentation(ctx, acc.account_id, [b.credential_id], "c", "d", {})


async def test_sd_jwt_presentation_discloses_only_chosen_claims(ctx: Context) -> None:
    acc = (await _learner(ctx)).account
    holder = ctx.keys.open(acc.encrypted_holder_key).public_key
    sd = (
        await receiving.import_credential(ctx, acc.account_id, Issuer().sd_jwt(holder))
    ).credential
    vp = await sharing.create_presentation(
        ctx,
        acc.account_id,
        [sd.credential_id],
        "nonce-1",
        "jobs.example.com",
        {sd.credential_id: ["/given_name"]},
    )
    parsed = parse_sd_jwt(vp.content.decode())
    names = {d.name for d in parsed.disclosures}
    assert names == {"given_name"}
    revealed = sd_jwt_plaintext(vp.content)
    assert "Ada" in revealed
    assert "Lovelace" not in revealed and "1815" not in revealed and "Engines" not in revealed
    with pytest.raises(InvalidRequest, match="disclose"):
        await sharing.create_presentation(
            ctx, acc.account_id, [sd.credential_id], "n", "d", {sd.credential_id: ["/nope"]}
        )


async def test_share_link_lifecycle_is_logged(ctx: Context, store: FakeStore) -> None:
    acc = (await _learner(ctx)).account
    vc = (
        await receiving.import_credential(ctx, acc.account_id, Issuer().badge(acc.holder_did))
    ).credential
    new = await sharing.create_share_link(ctx, acc.account_id, [vc.credential_id], max_accesses=1)
    token = new.url.rsplit("/", 1)[1]
    seen = await sharing.resolve_share_link(ctx, token, address="203.0.113.9", user_agent="UA")
    assert [c.credential_id for c in seen.credentials] == [vc.credential_id]
    with pytest.raises(ShareLinkUnavailable, match="view limit"):
        await sharing.resolve_share_link(ctx, token)
    log = await sharing.list_access_log(ctx, acc.account_id)
    assert [e.outcome for e in log] == [AccessOutcome.DENIED_EXHAUSTED, AccessOutcome.GRANTED]
    assert log[1].client_network == "203.0.113.0/24"
    assert log[1].seen_credential_ids == (vc.credential_id,)
    aud = await sharing.create_share_link(ctx, acc.account_id, [vc.credential_id], audience="ver_1")
    with pytest.raises(AudienceMismatch):
        await sharing.resolve_share_link(ctx, aud.url.rsplit("/", 1)[1], verifier_id="ver_2")
    ok = await sharing.resolve_share_link(ctx, aud.url.rsplit("/", 1)[1], verifier_id="ver_1")
    assert ok.credentials
    ctx.clock = lambda: aud.link.expires_at + timedelta(seconds=1)  # type: ignore[method-assign]
    with pytest.raises(ShareLinkUnavailable, match="expired"):
        await sharing.resolve_share_link(ctx, aud.url.rsplit("/", 1)[1], verifier_id="ver_1")
    assert store.log and len(store.log) == 5


async def test_consent_pseudonyms_only_while_opted_in(ctx: Context, store: FakeStore) -> None:
    acc = (await _learner(ctx)).account
    issuer = Issuer()
    await accounts.set_research_consent(ctx, acc.account_id, "ler-outcomes-2027", True)
    await receiving.import_credential(ctx, acc.account_id, issuer.badge(acc.holder_did))
    await accounts.set_research_consent(ctx, acc.account_id, "ler-outcomes-2027", False)
    await receiving.import_credential(ctx, acc.account_id, issuer.badge(acc.holder_did, name="B"))
    stored = [e for e in store.events if isinstance(e, events.CredentialStored)]
    assert stored[0].study_pseudonyms and stored[0].study_pseudonyms[0][1].startswith("psn_")
    assert acc.account_id not in stored[0].study_pseudonyms[0][1]
    assert stored[1].study_pseudonyms == ()
    with pytest.raises(InvalidRequest, match="study_id"):
        await accounts.set_research_consent(ctx, acc.account_id, "Bad Study", True)


async def test_export_and_delete_everything(ctx: Context, store: FakeStore) -> None:
    acc = (await _learner(ctx)).account
    other = (await _learner(ctx, "other@example.org")).account
    vc = Issuer().badge(acc.holder_did)
    await receiving.import_credential(ctx, acc.account_id, vc)
    await curation.add_self_asserted_skill(
        ctx, acc.account_id, Skill("Teamwork", url="https://example.org/t"), ""
    )
    out = await export.export_records(
        ctx, acc.account_id, "ler_rs_json", include_hidden=True, include_self_asserted=True
    )
    doc = json.loads(out.content)
    assert doc["credentials"][0]["signedCredential"].encode() == vc
    assert {s["name"] for s in doc["skills"]} == {"Python", "Teamwork"}
    teamwork = next(s for s in doc["skills"] if s["name"] == "Teamwork")
    assert "verifications" not in teamwork and "not verified" in teamwork["comments"][0]
    await sharing.create_share_link(ctx, acc.account_id, [json.loads(vc)["id"]])
    await accounts.set_research_consent(ctx, acc.account_id, "s1", True)
    with pytest.raises(ConfirmationMismatch):
        await accounts.delete_account(ctx, acc.account_id, "nope")
    deleted, _ = await accounts.delete_account(ctx, acc.account_id, acc.account_id)
    assert deleted == 1
    for name, table in store.tables().items():
        assert all(v.account_id != acc.account_id for v in table.values()), name
    assert other.account_id in store.accounts
    assert isinstance(store.events[-1], events.AccountDeleted)


async def test_did_jwk_holder_presentation_verifies(ctx: Context) -> None:
    ctx.keys = EnvelopeHolderKeys.from_kek(KeyEncryptionKey.generate("k"), did_method="jwk")
    acc = (await _learner(ctx)).account
    assert acc.holder_did.startswith("did:jwk:")
    vc = (
        await receiving.import_credential(ctx, acc.account_id, Issuer().badge(acc.holder_did))
    ).credential
    vp = await sharing.create_presentation(
        ctx, acc.account_id, [vc.credential_id], "ch-1", "verifier.example", {}
    )
    resolver = DidResolver(offline=True)
    good = await verify_presentation(
        json.loads(vp.content), challenge="ch-1", domain="verifier.example", resolver=resolver
    )
    assert good.verified, good.to_dict()
    bad = await verify_presentation(
        json.loads(vp.content), challenge="ch-2", domain="verifier.example", resolver=resolver
    )
    assert not bad.verified
