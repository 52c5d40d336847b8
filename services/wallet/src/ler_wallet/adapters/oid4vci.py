"""Holder side of OpenID for Verifiable Credential Issuance 1.0, pre-authorized code flow.

offer (§4.1, by value or by reference) → Credential Issuer metadata (§12.2.2) → the
authorization server's token endpoint (RFC 8414 §3, OID4VCI §6) with the pre-authorized code
and tx_code → the credential endpoint (§8) with a key proof JWT (§8.2.1.1, Appendix F.1) signed
by the holder key, bound to the issuer (``aud``) and the ``c_nonce``.

Every fetch is bounded in size and time; plain http and non-public addresses are refused
unless the operator allows them (local clusters, tests).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import aiohttp
from ler_crypto.did.web import check_public_host
from ler_crypto.errors import CryptoError
from ler_crypto.keys import KeyPair
from ler_crypto.sdjwt import sign_compact

from ler_wallet.domain.errors import InvalidRequest, IssuerUnreachable, OfferRefused

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PROOF_TYP = "openid4vci-proof+jwt"
MAX_RESPONSE_BYTES = 2 * 1024 * 1024


def parse_offer_uri(offer_uri: str) -> tuple[dict[str, Any] | None, str | None]:
    """The offer by value, or the URL of the offer by reference (§4.1.2, §4.1.3)."""
    parts = urlsplit(offer_uri.strip())
    if parts.scheme not in ("openid-credential-offer", "https", "http"):
        raise InvalidRequest("offer_uri must be openid-credential-offer:// or an https URL")
    query = parse_qs(parts.query)
    if "credential_offer" in query:
        try:
            offer = json.loads(query["credential_offer"][0])
        except ValueError as err:
            raise InvalidRequest("credential_offer in offer_uri is not JSON") from err
        if not isinstance(offer, dict):
            raise InvalidRequest("credential_offer must be a JSON object")
        return offer, None
    if "credential_offer_uri" in query:
        return None, query["credential_offer_uri"][0]
    raise InvalidRequest("offer_uri has neither credential_offer nor credential_offer_uri")


def well_known(url: str, suffix: str) -> str:
    """Insert ``/.well-known/<suffix>`` between host and path (OID4VCI §12.2.2, RFC 8414 §3.1)."""
    parts = urlsplit(url.rstrip("/"))
    return urlunsplit((parts.scheme, parts.netloc, f"/.well-known/{suffix}{parts.path}", "", ""))


class Oid4vciClient:
    """Collects the credentials of an offer for one holder key."""

    def __init__(self, *, allow_private: bool = False, timeout: float = 10.0) -> None:
        self._allow_private = allow_private
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def _check(self, url: str) -> None:
        scheme = urlsplit(url).scheme
        if self._allow_private:
            if scheme not in ("http", "https"):
                raise InvalidRequest(f"refusing to fetch a {scheme!r} URL")
            return
        if scheme != "https":
            raise InvalidRequest("the issuer must be reached over https")
        try:
            await asyncio.to_thread(check_public_host, url)
        except CryptoError as err:
            raise IssuerUnreachable(f"refusing to contact the issuer: {err}") from err

    async def _json(self, http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Any:
        await self._check(url)
        try:
            async with http.request(method, url, allow_redirects=False, **kw) as response:
                body = await response.content.read(MAX_RESPONSE_BYTES + 1)
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as err:
            raise IssuerUnreachable(
                f"the issuer at {urlsplit(url).netloc} cannot be reached ({type(err).__name__})"
            ) from err
        if len(body) > MAX_RESPONSE_BYTES:
            raise OfferRefused(f"the issuer's response exceeds {MAX_RESPONSE_BYTES} bytes")
        try:
            data = json.loads(body) if body else {}
        except ValueError as err:
            raise OfferRefused(
                f"the issuer answered {status} with a body that is not JSON"
            ) from err
        if status >= 500:
            raise IssuerUnreachable(f"the issuer answered {status}; retry later")
        if status >= 400:
            reason = data.get("error_description") or data.get("detail") or data.get("error")
            raise OfferRefused(f"the issuer refused: {reason or status}")
        return data

    async def collect(
        self, offer_uri: str, tx_code: str, holder: KeyPair, verification_method: str
    ) -> list[str]:
        """Run the flow; returns each credential as text (JSON or compact SD-JWT)."""
        offer, offer_url = parse_offer_uri(offer_uri)
        async with aiohttp.ClientSession(timeout=self._timeout) as http:
            if offer is None and offer_url is not None:
                offer = await self._json(http, "GET", offer_url)
            issuer, ids, code = _read_offer(offer, tx_code)
            metadata = await self._json(http, "GET", well_known(issuer, "openid-credential-issuer"))
            endpoint = metadata.get("credential_endpoint")
            servers = metadata.get("authorization_servers") or [issuer]
            as_meta = await self._json(
                http, "GET", well_known(servers[0], "oauth-authorization-server")
            )
            token_endpoint = as_meta.get("token_endpoint")
            if not isinstance(endpoint, str) or not isinstance(token_endpoint, str):
                raise OfferRefused("the issuer metadata lacks a credential or token endpoint")
            form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": code}
            if tx_code:
                form["tx_code"] = tx_code
            token = await self._json(http, "POST", token_endpoint, data=form)
            access = token.get("access_token")
            if not isinstance(access, str):
                raise OfferRefused("the token endpoint returned no access token")
            texts: list[str] = []
            for configuration_id in ids:
                nonce = token.get("c_nonce")
                if isinstance(metadata.get("nonce_endpoint"), str):
                    # OID4VCI 1.0 §7: a fresh c_nonce from the Nonce Endpoint
                    fresh = await self._json(http, "POST", metadata["nonce_endpoint"])
                    nonce = fresh.get("c_nonce", nonce)
                response = await self._json(
                    http,
                    "POST",
                    endpoint,
                    json={
                        "credential_configuration_id": configuration_id,
                        "proof": {
                            "proof_type": "jwt",
                            "jwt": _key_proof(issuer, nonce, holder, verification_method),
                        },
                    },
                    headers={"Authorization": f"Bearer {access}"},
                )
                texts += _credentials_of(response)
        if not texts:
            raise OfferRefused("the issuer delivered no credential")
        return texts


def _read_offer(offer: Any, tx_code: str) -> tuple[str, list[Any], str]:
    """Issuer, configuration ids and pre-authorized code of an offer (§4.1.1)."""
    if not isinstance(offer, dict):
        raise InvalidRequest("the credential offer is not a JSON object")
    issuer = offer.get("credential_issuer")
    ids = offer.get("credential_configuration_ids")
    grant = (offer.get("grants") or {}).get(PRE_AUTHORIZED_GRANT)
    if not isinstance(issuer, str) or not isinstance(ids, list) or not ids:
        raise InvalidRequest("the offer needs credential_issuer and credential_configuration_ids")
    if not isinstance(grant, dict) or not isinstance(grant.get("pre-authorized_code"), str):
        raise InvalidRequest("only offers with a pre-authorized code are supported")
    if grant.get("tx_code") is not None and not tx_code:
        raise InvalidRequest("this offer needs the transaction code (tx_code)")
    return issuer, ids, grant["pre-authorized_code"]


def _key_proof(issuer: str, nonce: Any, holder: KeyPair, verification_method: str) -> str:
    """A key proof JWT (§8.2.1.1, Appendix F.1): typ, alg, kid; aud = issuer, iat, nonce."""
    claims: dict[str, Any] = {"aud": issuer, "iat": int(time.time())}
    if isinstance(nonce, str) and nonce:
        claims["nonce"] = nonce
    return sign_compact({"typ": PROOF_TYP, "kid": verification_method}, claims, holder)


def _credentials_of(response: Any) -> list[str]:
    """The credentials of a Credential Response (§8.3) as text."""
    texts: list[str] = []
    for item in response.get("credentials") or [] if isinstance(response, dict) else []:
        value = item.get("credential") if isinstance(item, dict) else None
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            texts.append(json.dumps(value, ensure_ascii=False))
    return texts
