"""Public HTTP endpoints on SQLite: DID documents, status lists, OAuth, VC-API, OID4VCI."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from issuance_helpers import achievement, service_settings, spec, verify_over_http
from ler_crypto.did import did_key_from_public_key
from ler_crypto.keys import KeyPair
from ler_crypto.sdjwt import parse_sd_jwt
from ler_crypto.token_status_list import TokenStatus, decode_status_list
from ler_issuance.bootstrap import IssuanceApp, bootstrap
from ler_issuance.domain.model import CredentialFormat, DidMethod, StatusAction, Subject
from ler_issuance.service_layer.issuers import NewIssuer, register_issuer
from ler_issuance.service_layer.issuing import issue_credential
from ler_issuance.service_layer.offers import create_offer
from ler_issuance.service_layer.status import change_status


@dataclass
class Service:
    app: IssuanceApp
    base: str
    http: aiohttp.ClientSession


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    settings = service_settings(f"sqlite+aiosqlite:///{tmp_path / 'issuance.db'}")
    app = bootstrap(settings)
    await app.runtime.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield Service(app, settings.base_url, http)
    finally:
        await app.runtime.stop()


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def _token(s: Service, client_id: str, secret: str) -> str:
    async with s.http.post(
        f"{s.base}/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=_basic(client_id, secret),
    ) as response:
        assert response.status == 200, await response.text()
        assert response.headers["Cache-Control"] == "no-store"
        body = await response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return str(body["access_token"])


async def test_did_documents_are_served_where_did_web_resolves(service: Service) -> None:
    issuer, _ = await register_issuer(service.app.ctx, NewIssuer(name="A", url="https://a.ex"))
    async with service.http.get(f"{service.base}/issuers/{issuer.issuer_id}/did.json") as r:
        assert r.status == 200 and r.content_type == "application/did+json"
        doc = await r.json()
    assert doc["id"] == issuer.did and doc["assertionMethod"] == [issuer.did + "#key-1"]
    async with service.http.get(f"{service.base}/issuers/iss_nope/did.json") as r:
        assert r.status == 404
        assert r.content_type == "application/problem+json"
    keyed, _ = await register_issuer(
        service.app.ctx, NewIssuer(name="K", url="https://k.ex", did_method=DidMethod.KEY)
    )
    async with service.http.get(f"{service.base}/issuers/{keyed.issuer_id}/did.json") as r:
        assert r.status == 404  # did:key documents are not served: they resolve from the DID


async def test_status_list_caching_and_revocation(service: Service) -> None:
    ctx = service.app.ctx
    issuer, _ = await register_issuer(ctx, NewIssuer(name="A", url="https://a.ex"))
    record, _ = await issue_credential(ctx, issuer.issuer_id, spec("S1"))
    entry = next(e for e in record.status_entries if e.purpose.value == "revocation")
    async with service.http.get(entry.list_url) as r:
        assert r.status == 200
        etag = r.headers["ETag"]
        assert "max-age=" in r.headers["Cache-Control"]
    async with service.http.get(entry.list_url, headers={"If-None-Match": etag}) as r:
        assert r.status == 304 and r.headers["ETag"] == etag
    assert (await verify_over_http(record.signed_credential)).verified
    await change_status(ctx, issuer.issuer_id, record.credential_id, StatusAction.REVOKE, "x")
    async with service.http.get(entry.list_url, headers={"If-None-Match": etag}) as r:
        assert r.status == 200 and r.headers["ETag"] != etag  # re-signed list
    report = await verify_over_http(record.signed_credential)
    assert not report.verified
    assert any("revoked" in c.reason for c in report.failures())


async def test_status_list_token_is_served_cached_and_follows_status(service: Service) -> None:
    ctx = service.app.ctx
    issuer, _ = await register_issuer(ctx, NewIssuer(name="A", url="https://a.ex"))
    record, _ = await issue_credential(
        ctx, issuer.issuer_id, spec("SD-H1", format=CredentialFormat.SD_JWT_VC)
    )
    claim = parse_sd_jwt(record.signed_credential.decode()).jws.payload["status"]["status_list"]
    uri, idx = claim["uri"], claim["idx"]
    assert uri == f"{service.base}/issuers/{issuer.issuer_id}/status-lists/revocation-1/token"

    async def served(etag: str = "") -> tuple[int, str, bytes]:
        headers = {"If-None-Match": etag} if etag else {}
        async with service.http.get(uri, headers=headers) as r:  # public: no credentials
            if r.status == 200:
                assert r.content_type == "application/statuslist+jwt"
                assert r.headers["Cache-Control"] == "public, max-age=60"
            return r.status, r.headers.get("ETag", ""), await r.read()

    status, etag, body = await served()
    assert status == 200 and etag
    payload = json.loads(base64.urlsafe_b64decode(body.split(b".")[1] + b"=="))
    assert payload["sub"] == uri and payload["iss"] == issuer.did and payload["ttl"] == 60
    assert payload["exp"] > payload["iat"] and payload["status_list"]["bits"] == 2
    assert (await served(etag))[:2] == (304, etag)
    assert (await verify_over_http(record.signed_credential)).verified
    await change_status(ctx, issuer.issuer_id, record.credential_id, StatusAction.SUSPEND, "check")
    status, new_etag, body = await served(etag)
    assert status == 200 and new_etag != etag  # re-signed after the change
    payload = json.loads(base64.urlsafe_b64decode(body.split(b".")[1] + b"=="))
    lst = decode_status_list(payload["status_list"]["lst"], payload["status_list"]["bits"])
    assert lst.get(idx) == TokenStatus.SUSPENDED
    report = await verify_over_http(record.signed_credential)
    assert not report.verified and any("suspended" in c.reason for c in report.failures())
    async with service.http.get(uri.replace("revocation-1", "suspension-1")) as r:
        assert r.status == 404 and r.content_type == "application/problem+json"


async def test_oauth_and_vc_api_issue_are_tenant_scoped(service: Service) -> None:
    ctx = service.app.ctx
    a, key_a = await register_issuer(ctx, NewIssuer(name="A", url="https://a.ex"))
    b, key_b = await register_issuer(ctx, NewIssuer(name="B", url="https://b.ex"))
    # wrong secret, another tenant's secret, unsupported grant
    for client_id, secret in ((a.issuer_id, key_a + "x"), (a.issuer_id, key_b)):
        async with service.http.post(
            f"{service.base}/oauth/token",
            data={"grant_type": "client_credentials"},
            headers=_basic(client_id, secret),
        ) as r:
            assert r.status == 401 and (await r.json())["error"] == "invalid_client"
            assert secret not in await r.text()
    async with service.http.post(
        f"{service.base}/oauth/token",
        data={"grant_type": "password", "client_id": a.issuer_id, "client_secret": key_a},
    ) as r:
        assert r.status == 400 and (await r.json())["error"] == "unsupported_grant_type"
    token_b = await _token(service, b.issuer_id, key_b)
    credential = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": "Badge",
        "issuer": {"id": a.did, "type": ["Profile"], "name": "pretending to be A"},
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "urn:uuid:0d7a4b3c-0000-4000-8000-000000000001",
                "type": ["Achievement"],
                "name": "Badge",
                "description": "A badge.",
                "criteria": {"narrative": "Do it."},
            },
        },
    }
    body = {"credential": credential, "options": {"recordId": "VC-1"}}
    async with service.http.post(f"{service.base}/credentials/issue", json=body) as r:
        assert r.status == 401
    async with service.http.post(
        f"{service.base}/credentials/issue",
        json=body,
        headers={"Authorization": f"Bearer {token_b}"},
    ) as r:
        assert r.status == 201, await r.text()
        signed = (await r.json())["verifiableCredential"]
    # B can only issue as B: the posted issuer is replaced by B's profile
    assert signed["issuer"]["id"] == b.did
    assert signed["proof"]["verificationMethod"].startswith(b.did)
    assert (await verify_over_http(json.dumps(signed).encode())).verified
    async with service.http.post(
        f"{service.base}/credentials/issue",
        json={"credential": {**credential, "name": "Other"}, "options": {"recordId": "VC-1"}},
        headers={"Authorization": f"Bearer {token_b}"},
    ) as r:
        assert r.status == 409 and (await r.json())["title"] == "RECORD_ID_CONFLICT"
    async with service.http.post(
        f"{service.base}/credentials/issue",
        json={"credential": {"type": "nope"}, "options": {"recordId": "VC-2"}},
        headers={"Authorization": f"Bearer {token_b}"},
    ) as r:
        assert r.status == 400
        assert r.content_type == "application/problem+json"


def _proof_jwt(holder: KeyPair, audience: str, nonce: str) -> str:
    _did, vm = did_key_from_public_key(holder.public_key)

    def b64(data: dict[str, object]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    header = b64({"typ": "openid4vci-proof+jwt", "alg": "EdDSA", "kid": vm})
    payload = b64({"aud": audience, "iat": int(time.time()), "nonce": nonce})
    signature = holder.sign(f"{header}.{payload}".encode())
    return f"{header}.{payload}." + base64.urlsafe_b64encode(signature).decode().rstrip("=")


async def test_oid4vci_pre_authorized_flow_binds_the_wallet_key(service: Service) -> None:
    ctx = service.app.ctx
    issuer, _ = await register_issuer(ctx, NewIssuer(name="A", url="https://a.ex"))
    learner = Subject(email="grace@example.edu")
    record, _ = await issue_credential(
        ctx, issuer.issuer_id, spec("O1", subject=learner, achievement=achievement("Navy"))
    )
    offer = await create_offer(ctx, issuer.issuer_id, record.credential_id, True, None)
    payload = json.loads(parse_qs(urlsplit(offer.offer_uri).query)["credential_offer"][0])
    issuer_url = payload["credential_issuer"]
    async with service.http.get(
        f"{service.base}/.well-known/openid-credential-issuer/issuers/{issuer.issuer_id}"
    ) as r:
        metadata = await r.json()
    assert metadata["credential_issuer"] == issuer_url
    assert "OpenBadgeCredential_ldp_vc" in metadata["credential_configurations_supported"]
    grant = payload["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
    token_url = f"{service.base}/oid4vci/token"
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
        "pre-authorized_code": grant["pre-authorized_code"],
    }
    async with service.http.post(token_url, data={**form, "tx_code": "000000x"}) as r:
        assert r.status == 400 and (await r.json())["error"] == "invalid_grant"
    async with service.http.post(token_url, data={**form, "tx_code": offer.tx_code}) as r:
        assert r.status == 200, await r.text()
        tokens = await r.json()
    async with service.http.post(token_url, data={**form, "tx_code": offer.tx_code}) as r:
        assert r.status == 400  # a pre-authorized code is good for one token only
    holder = KeyPair.generate()
    holder_did = did_key_from_public_key(holder.public_key)[0]
    credential_url = metadata["credential_endpoint"]
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    bad = _proof_jwt(holder, issuer_url, "wrong-nonce")
    async with service.http.post(
        credential_url, json={"proof": {"proof_type": "jwt", "jwt": bad}}, headers=auth
    ) as r:
        assert r.status == 400 and "nonce" in (await r.json())["detail"]
    good = _proof_jwt(holder, issuer_url, tokens["c_nonce"])
    async with service.http.post(
        credential_url, json={"proof": {"proof_type": "jwt", "jwt": good}}, headers=auth
    ) as r:
        assert r.status == 200, await r.text()
        delivered = (await r.json())["credentials"][0]["credential"]
    assert delivered["credentialSubject"]["id"] == holder_did
    assert delivered["id"] == record.credential_id
    assert (await verify_over_http(json.dumps(delivered).encode())).verified
    async with service.http.post(
        credential_url, json={"proof": {"proof_type": "jwt", "jwt": good}}, headers=auth
    ) as r:
        assert r.status == 401  # the access token was spent


async def test_access_tokens_authorize_grpc_for_their_tenant_only(service: Service) -> None:
    import grpc
    from ler.issuance.v1 import issuance_service_pb2 as pb
    from ler.issuance.v1 import issuance_service_pb2_grpc as pb_grpc

    ctx = service.app.ctx
    a, key_a = await register_issuer(ctx, NewIssuer(name="A", url="https://a.ex"))
    b, _ = await register_issuer(ctx, NewIssuer(name="B", url="https://b.ex"))
    token = await _token(service, a.issuer_id, key_a)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.app.runtime.grpc.port}") as ch:
        stub = pb_grpc.IssuanceServiceStub(ch)
        md = (("authorization", f"Bearer {token}"),)
        got = await stub.GetIssuer(pb.GetIssuerRequest(issuer_id=a.issuer_id), metadata=md)
        assert got.issuer.did == a.did
        for request, code in (
            (pb.GetIssuerRequest(issuer_id=b.issuer_id), grpc.StatusCode.PERMISSION_DENIED),
        ):
            try:
                await stub.GetIssuer(request, metadata=md)
            except grpc.aio.AioRpcError as err:
                assert err.code() == code and b.did not in (err.details() or "")
            else:
                raise AssertionError("another tenant's issuer was readable")
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        try:
            await stub.GetIssuer(
                pb.GetIssuerRequest(issuer_id=a.issuer_id),
                metadata=(("authorization", f"Bearer {forged}"),),
            )
        except grpc.aio.AioRpcError as err:
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED
            assert forged not in (err.details() or "")
        else:
            raise AssertionError("a forged token was accepted")


async def test_registered_did_web_domains_resolve_by_host_and_path(service: Service) -> None:
    from urllib.parse import quote, urlsplit

    host = quote(urlsplit(service.base).netloc, safe="")
    ctx = service.app.ctx
    on_path, _ = await register_issuer(
        ctx, NewIssuer(name="R", url="https://r.ex", did_web_domain=f"{host}:registrar")
    )
    on_host, _ = await register_issuer(
        ctx, NewIssuer(name="H", url="https://h.ex", did_web_domain=host)
    )
    async with service.http.get(f"{service.base}/registrar/did.json") as r:
        assert r.status == 200 and (await r.json())["id"] == on_path.did
    async with service.http.get(f"{service.base}/.well-known/did.json") as r:
        assert r.status == 200 and (await r.json())["id"] == on_host.did
    async with service.http.get(f"{service.base}/nobody/did.json") as r:
        assert r.status == 404
