"""Registering issuers, rotating keys, API keys and access tokens (fake unit of work)."""

from __future__ import annotations

import json

import pytest
from issuance_fakes import FakeStore
from ler_issuance.domain.errors import CannotRotate, InvalidClient, InvalidSpec, IssuerAlreadyExists
from ler_issuance.domain.model import DidMethod, StatusPurpose
from ler_issuance.service_layer.context import Context
from ler_issuance.service_layer.issuers import (
    NewIssuer,
    authenticate_client,
    register_issuer,
    rotate_signing_key,
)
from ler_issuance.service_layer.tokens import AccessTokens

UNIVERSITY = NewIssuer(name="Example State University", url="https://esu.example.edu")


async def test_register_creates_did_web_key_and_signed_status_lists(
    ctx: Context, store: FakeStore
) -> None:
    issuer, api_key = await register_issuer(ctx, UNIVERSITY)
    assert issuer.did == f"did:web:127.0.0.1%3A8081:issuers:{issuer.issuer_id}"
    assert issuer.active_key.verification_method == issuer.did + "#key-1"
    assert api_key.startswith(issuer.issuer_id + ".")
    stored = store.issuers[issuer.issuer_id]
    # only a salted hash of the API key is stored, and the key never shows in reprs
    assert api_key.encode() not in stored.api_key_hash and api_key not in repr(stored)
    assert stored.check_api_key(api_key) and not stored.check_api_key(api_key + "x")
    lists = {s.purpose for (iid, _), s in store.status_lists.items() if iid == issuer.issuer_id}
    assert lists == {StatusPurpose.REVOCATION, StatusPurpose.SUSPENSION}
    signed = json.loads(store.status_lists[(issuer.issuer_id, "revocation-1")].signed_credential)
    assert signed["proof"]["verificationMethod"] == issuer.did + "#key-1"
    assert signed["proof"]["cryptosuite"] == "eddsa-rdfc-2022"


async def test_register_rejects_bad_fields_naming_each(ctx: Context) -> None:
    with pytest.raises(InvalidSpec) as info:
        await register_issuer(ctx, NewIssuer(name=" ", url="ftp://x", did_web_domain="bad domain"))
    fields = {v.field for v in info.value.violations}
    assert fields == {"name", "url", "did_web_domain"}


async def test_same_did_web_domain_twice_is_already_exists(ctx: Context) -> None:
    req = NewIssuer(name="A", url="https://a.example", did_web_domain="a.example%3A8443:registrar")
    issuer, _ = await register_issuer(ctx, req)
    assert issuer.did == "did:web:a.example%3A8443:registrar"
    with pytest.raises(IssuerAlreadyExists):
        await register_issuer(ctx, req)


async def test_rotation_retires_old_key_but_keeps_it_in_the_did_document(ctx: Context) -> None:
    issuer, _ = await register_issuer(ctx, UNIVERSITY)
    rotated = await rotate_signing_key(ctx, issuer.issuer_id)
    assert rotated.active_key.number == 2
    assert [k.number for k in rotated.retired_keys] == [1]
    doc = rotated.did_document()
    assert doc["assertionMethod"] == [issuer.did + "#key-1", issuer.did + "#key-2"]
    assert doc["authentication"] == [issuer.did + "#key-2"]


async def test_did_key_issuer_cannot_rotate(ctx: Context) -> None:
    issuer, _ = await register_issuer(
        ctx, NewIssuer(name="K", url="https://k.example", did_method=DidMethod.KEY)
    )
    assert issuer.did.startswith("did:key:z6Mk")
    with pytest.raises(CannotRotate):
        await rotate_signing_key(ctx, issuer.issuer_id)


async def test_client_authentication_accepts_only_the_right_key(ctx: Context) -> None:
    one, key_one = await register_issuer(ctx, UNIVERSITY)
    two, key_two = await register_issuer(ctx, NewIssuer(name="B", url="https://b.example"))
    assert (await authenticate_client(ctx, one.issuer_id, key_one)).issuer_id == one.issuer_id
    assert (await authenticate_client(ctx, None, key_two)).issuer_id == two.issuer_id
    for client_id, secret in (
        (one.issuer_id, key_two),  # another tenant's key under my id
        (None, key_one[:-1] + ("A" if key_one[-1] != "A" else "B")),
        (None, "iss_unknown.abc"),
        (None, ""),
    ):
        with pytest.raises(InvalidClient) as info:
            await authenticate_client(ctx, client_id, secret)
        assert info.value.message == "client authentication failed"
        assert secret not in str(info.value) or not secret


def test_access_tokens_expire_and_resist_tampering() -> None:
    now = [1_000_000.0]
    tokens = AccessTokens(b"k" * 32, ttl_seconds=60, clock=lambda: now[0])
    token = tokens.issue("iss_1")
    assert tokens.verify(token) == "iss_1"
    prefix, _body, mac = token.split(".")
    forged = json.dumps({"sub": "iss_2", "scope": "issuer", "exp": 2_000_000_000})
    import base64

    forged_body = base64.urlsafe_b64encode(forged.encode()).decode().rstrip("=")
    with pytest.raises(InvalidClient):
        tokens.verify(f"{prefix}.{forged_body}.{mac}")
    with pytest.raises(InvalidClient):
        AccessTokens(b"x" * 32).verify(token)
    with pytest.raises(InvalidClient):
        tokens.verify(token, scope="other")
    now[0] += 61
    with pytest.raises(InvalidClient, match="expired"):
        tokens.verify(token)
