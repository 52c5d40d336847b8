"""OpenID4VP 1.0 holder side over gRPC in-process, against a verifier the test runs (aiohttp).

The verifier issues requests (signed by reference for a decentralized_identifier client,
unsigned by value for a redirect_uri client), receives the direct_post response and checks it
with ler_crypto's verifiers: challenge = nonce, domain / aud = client_id.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import grpc
import pytest
from aiohttp import web
from ler.wallet.v1 import events_pb2 as epb
from ler.wallet.v1 import resources_pb2 as rpb
from ler.wallet.v1 import wallet_service_pb2 as pb
from ler.wallet.v1 import wallet_service_pb2_grpc as pb_grpc
from ler_crypto.did import DidResolver, did_key_from_public_key
from ler_crypto.errors import SdJwtError
from ler_crypto.keys import KeyPair, PublicKey
from ler_crypto.sdjwt import parse_sd_jwt, sign_compact, verify_sd_jwt
from ler_crypto.verifier.api import verify_presentation
from ler_wallet.bootstrap import WalletApp, bootstrap
from wallet_helpers import (
    Issuer,
    bearer,
    free_port,
    poll_until,
    read_topic,
    sd_jwt_plaintext,
    wallet_settings,
)

OB_TYPE = "https://purl.imsglobal.org/spec/vc/ob/vocab.html#OpenBadgeCredential"
VCT = "https://example.org/vct/achievement"


@dataclass
class Verifier:
    """A minimal OpenID4VP verifier: request objects by reference, a direct_post endpoint."""

    base: str
    pair: KeyPair = field(default_factory=lambda: KeyPair.generate("Ed25519"))
    requests: dict[str, str] = field(default_factory=dict)
    received: list[dict[str, str]] = field(default_factory=list)
    refuse: bool = False

    def __post_init__(self) -> None:
        self.did, self.vm = did_key_from_public_key(self.pair.public_key)

    @property
    def client_id(self) -> str:
        return f"decentralized_identifier:{self.did}"

    def signed_request(
        self, dcql: dict[str, Any], *, method: str = "", **overrides: Any
    ) -> tuple[str, str]:
        """A signed request object published at a request_uri; (wallet URI, nonce)."""
        nonce = secrets.token_urlsafe(16)
        claims = {
            "client_id": self.client_id,
            "response_type": "vp_token",
            "response_mode": "direct_post",
            "response_uri": f"{self.base}/response",
            "nonce": nonce,
            "state": "st-1",
            "dcql_query": dcql,
            "client_metadata": {"client_name": "ACME Hiring"},
            **overrides,
        }
        rid = secrets.token_hex(4)
        self.requests[rid] = sign_compact(
            {"typ": "oauth-authz-req+jwt", "kid": self.vm}, claims, self.pair
        )
        outer = {"client_id": self.client_id, "request_uri": f"{self.base}/req/{rid}"}
        if method:
            outer["request_uri_method"] = method
        query = urlencode(outer)
        return f"openid4vp://?{query}", nonce

    def app(self) -> web.Application:
        async def request_object(request: web.Request) -> web.Response:
            return web.Response(
                text=self.requests[request.match_info["rid"]],
                content_type="application/oauth-authz-req+jwt",
            )

        async def response(request: web.Request) -> web.Response:
            self.received.append(dict(await request.post()))  # type: ignore[arg-type]
            if self.refuse:
                return web.json_response({"error": "invalid_request"}, status=400)
            return web.json_response({"redirect_uri": f"{self.base}/done#r=1"})

        app = web.Application()
        app.router.add_get("/req/{rid}", request_object)
        app.router.add_post("/req/{rid}", request_object)  # request_uri_method=post (§5.10)
        app.router.add_post("/response", response)
        return app


@dataclass
class Env:
    app: WalletApp
    stub: pb_grpc.WalletServiceStub
    verifier: Verifier


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    port = free_port()
    verifier = Verifier(f"http://127.0.0.1:{port}")
    runner = web.AppRunner(verifier.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    app = bootstrap(
        wallet_settings(
            f"sqlite+aiosqlite:///{tmp_path / 'wallet.db'}", presentations_allow_private=True
        )
    )
    await app.runtime.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.runtime.grpc.port}")
    try:
        yield Env(app, pb_grpc.WalletServiceStub(channel), verifier)
    finally:
        await channel.close()
        await app.runtime.stop()
        await runner.cleanup()


def _dcql() -> dict[str, Any]:
    return {
        "credentials": [
            {"id": "badge", "format": "ldp_vc", "meta": {"type_values": [[OB_TYPE]]}},
            {
                "id": "name",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": [VCT]},
                "claims": [{"path": ["family_name"]}],
            },
        ]
    }


def _unsigned_by_value(verifier: Verifier, **params: Any) -> str:
    response_uri = f"{verifier.base}/response"
    values = {
        "client_id": f"redirect_uri:{response_uri}",
        "response_type": "vp_token",
        "response_mode": "direct_post",
        "response_uri": response_uri,
        "nonce": "n-by-value",
        "dcql_query": json.dumps(_dcql()),
        **params,
    }
    return "openid4vp://?" + urlencode(values)


async def test_answer_a_verifiers_request_end_to_end(env: Env) -> None:
    stub, verifier = env.stub, env.verifier
    ada = await stub.CreateAccount(pb.CreateAccountRequest(display_name="Ada", email="a@x.org"))
    acc, md = ada.account.account_id, bearer(ada.api_key)
    issuer = Issuer()
    holder = PublicKey.from_multikey(ada.account.holder_did.removeprefix("did:key:"))
    badge = (
        await stub.ImportCredential(
            pb.ImportCredentialRequest(
                account_id=acc, credential=issuer.badge(ada.account.holder_did)
            ),
            metadata=md,
        )
    ).credential.credential_id
    sd_bytes = issuer.sd_jwt(holder)
    sd = (
        await stub.ImportCredential(
            pb.ImportCredentialRequest(account_id=acc, credential=sd_bytes), metadata=md
        )
    ).credential.credential_id

    # the learner sees who asks and what, and which credentials fit — nothing is sent yet
    uri, nonce = verifier.signed_request(_dcql(), method="post")
    seen = await stub.ResolvePresentationRequest(
        pb.ResolvePresentationRequestRequest(account_id=acc, authorization_request=uri), metadata=md
    )
    assert (seen.client_id, seen.client_id_prefix, seen.signed) == (
        verifier.client_id,
        "decentralized_identifier",
        True,
    )
    assert seen.verifier_name == "ACME Hiring"
    asked = {c.query_id: c for c in seen.credentials}
    assert list(asked["badge"].matching_credential_ids) == [badge]
    assert list(asked["name"].matching_credential_ids) == [sd]
    assert list(asked["name"].claim_paths) == ["/family_name"] and asked["name"].required
    assert verifier.received == []

    done = await stub.RespondToPresentationRequest(
        pb.RespondToPresentationRequestRequest(
            account_id=acc,
            authorization_request=uri,
            choices=[
                pb.PresentationChoice(query_id="badge", credential_id=badge),
                pb.PresentationChoice(query_id="name", credential_id=sd),
            ],
        ),
        metadata=md,
    )
    assert done.redirect_uri == f"{verifier.base}/done#r=1"
    [form] = verifier.received
    assert form["state"] == "st-1"
    vp_token = json.loads(form["vp_token"])
    assert set(vp_token) == {"badge", "name"}

    # the Data Integrity presentation verifies for (nonce, client_id) and for nothing else
    resolver = DidResolver(None, offline=True)
    [vp] = vp_token["badge"]
    ok = await verify_presentation(
        vp, challenge=nonce, domain=verifier.client_id, resolver=resolver
    )
    assert ok.verified, ok.to_dict()
    wrong_nonce = await verify_presentation(
        vp, challenge="not-the-nonce", domain=verifier.client_id, resolver=resolver
    )
    assert not wrong_nonce.verified
    wrong_client = await verify_presentation(
        vp, challenge=nonce, domain="decentralized_identifier:did:key:zOther", resolver=resolver
    )
    assert not wrong_client.verified

    # the SD-JWT reveals only the requested claim, bound to (nonce, client_id)
    [sd_vp] = vp_token["name"]
    checked = verify_sd_jwt(sd_vp, issuer.pair.public_key, audience=verifier.client_id, nonce=nonce)
    assert checked.claims["family_name"] == "Lovelace"
    with pytest.raises(SdJwtError):
        verify_sd_jwt(sd_vp, issuer.pair.public_key, audience=verifier.client_id, nonce="other")
    revealed = sd_jwt_plaintext(sd_vp.encode())
    assert "Lovelace" in revealed
    for hidden in ("Ada", "1815-12-10", "Analytical Engines", "given_name", "birthdate"):
        assert hidden not in revealed, hidden
    for disclosure in parse_sd_jwt(sd_bytes.decode()).disclosures:
        if disclosure.name != "family_name":
            assert disclosure.encoded not in form["vp_token"]

    # the access log says who saw what
    log = await stub.ListAccessLog(pb.ListAccessLogRequest(account_id=acc), metadata=md)
    [entry] = [e for e in log.entries if e.channel == rpb.ACCESS_CHANNEL_OPENID4VP]
    assert entry.verifier_id == verifier.client_id
    assert entry.outcome == rpb.ACCESS_OUTCOME_GRANTED
    assert {s.credential_id: list(s.disclosed_claims) for s in entry.seen} == {
        badge: [],
        sd: ["/family_name"],
    }
    assert {p.credential_id for p in done.presented} == {badge, sd}

    # and a wallet event says so, without any credential contents
    async def shared() -> list[Any]:
        records = await read_topic(env.app.runtime.bus, env.app.runtime.settings.events_topic, 1)
        return [
            r
            for r in records
            if r.header("ce_type") == b"ler.wallet.v1.CredentialShared"
            and epb.CredentialShared.FromString(r.value).channel == epb.SHARE_CHANNEL_OPENID4VP
        ]

    [record] = await poll_until(shared, within=20)
    event = epb.CredentialShared.FromString(record.value)
    assert (event.domain, sorted(event.credential_ids)) == (verifier.client_id, sorted([badge, sd]))
    for secret in (b"Lovelace", b"proofValue", b"Data Analysis", nonce.encode()):
        assert secret not in record.value

    # a redirect_uri client by value (unsigned); a refusal by the verifier is still logged
    by_value = _unsigned_by_value(verifier)
    verifier.refuse = True
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.RespondToPresentationRequest(
            pb.RespondToPresentationRequestRequest(
                account_id=acc,
                authorization_request=by_value,
                choices=[
                    pb.PresentationChoice(query_id="badge", credential_id=badge),
                    pb.PresentationChoice(query_id="name", credential_id=sd),
                ],
            ),
            metadata=md,
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "rejected" in (err.value.details() or "")
    assert len(verifier.received) == 2
    log = await stub.ListAccessLog(pb.ListAccessLogRequest(account_id=acc), metadata=md)
    assert len([e for e in log.entries if e.channel == rpb.ACCESS_CHANNEL_OPENID4VP]) == 2

    # specific errors, and nothing posted for any of them
    cases = [
        (_unsigned_by_value(verifier, response_mode="direct_post.jwt"), "response_mode"),
        (_unsigned_by_value(verifier, response_mode="fragment"), "response_mode"),
        (_unsigned_by_value(verifier, client_id="x509_hash:abc"), "not supported"),
        (_unsigned_by_value(verifier, client_id="mystery:abc"), "unknown client identifier prefix"),
        (_unsigned_by_value(verifier, client_id="plainclient"), "not a client registered"),
        (_unsigned_by_value(verifier, client_id="redirect_uri:https://evil.example/cb"), "equal"),
        (verifier.signed_request(_dcql(), nonce="")[0], "nonce"),
        (
            _unsigned_by_value(
                verifier,
                dcql_query=json.dumps({"credentials": [{"id": "m", "format": "mso_mdoc"}]}),
            ),
            "mso_mdoc",
        ),
    ]
    tampered_uri, _ = verifier.signed_request(_dcql())
    rid = tampered_uri.rsplit("%2F", 1)[1]
    head, body, sig = verifier.requests[rid].split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["response_uri"] = "http://127.0.0.1:1/steal"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    verifier.requests[rid] = f"{head}.{forged}.{sig}"
    cases.append((tampered_uri, "signature"))
    for bad_uri, message in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ResolvePresentationRequest(
                pb.ResolvePresentationRequestRequest(account_id=acc, authorization_request=bad_uri),
                metadata=md,
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, message
        assert message in (err.value.details() or ""), (message, err.value.details())
    verifier.refuse = False
    uri, _ = verifier.signed_request(_dcql())
    for choices, message in (
        ([pb.PresentationChoice(query_id="badge", credential_id=badge)], "requires an answer"),
        (
            [
                pb.PresentationChoice(query_id="badge", credential_id=sd),
                pb.PresentationChoice(query_id="name", credential_id=sd),
            ],
            "does not answer",
        ),
        ([pb.PresentationChoice(query_id="nope", credential_id=badge)], "no credential query"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.RespondToPresentationRequest(
                pb.RespondToPresentationRequestRequest(
                    account_id=acc, authorization_request=uri, choices=choices
                ),
                metadata=md,
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, message
        assert message in (err.value.details() or ""), (message, err.value.details())
    assert len(verifier.received) == 2
