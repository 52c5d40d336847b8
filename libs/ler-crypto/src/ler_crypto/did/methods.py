"""Locally resolvable DID methods: did:key (Multikey form) and did:jwk."""

from __future__ import annotations

import json
from typing import Any

from ler_crypto.errors import KeyFormatError, ResolutionError
from ler_crypto.keys import PublicKey
from ler_crypto.multibase import b64url_decode, b64url_encode

DID_V1 = "https://www.w3.org/ns/did/v1"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
JWS_2020_V1 = "https://w3id.org/security/suites/jws-2020/v1"
_SIGNING_RELATIONSHIPS = (
    "authentication",
    "assertionMethod",
    "capabilityInvocation",
    "capabilityDelegation",
)


def did_key_from_public_key(key: PublicKey) -> tuple[str, str]:
    """did:key identifier and its verification method id (``did#<multikey>``)."""
    multikey = key.to_multikey()
    did = "did:key:" + multikey
    return did, f"{did}#{multikey}"


def did_jwk_from_public_key(key: PublicKey) -> tuple[str, str]:
    """did:jwk identifier (base64url of the compact JWK) and its ``#0`` method id."""
    jwk = json.dumps(key.to_jwk(), separators=(",", ":"), sort_keys=True)
    did = "did:jwk:" + b64url_encode(jwk.encode())
    return did, did + "#0"


def resolve_did_key(did: str) -> dict[str, Any]:
    """did:key document (did:key method v0.7 §3.1.2 "Document Creation Algorithm", Multikey)."""
    multikey = did.removeprefix("did:key:")
    if not multikey.startswith("z") or ":" in multikey:
        raise ResolutionError(f"invalid did:key {did!r}: expected a base58btc multibase key")
    try:
        key = PublicKey.from_multikey(multikey)
    except KeyFormatError as err:
        raise ResolutionError(f"invalid did:key {did!r}: {err}") from err
    if key.to_multikey() != multikey:  # non-canonical encodings would alias one key
        raise ResolutionError(f"invalid did:key {did!r}: non-canonical key encoding")
    vm_id = f"{did}#{multikey}"
    document: dict[str, Any] = {
        "@context": [DID_V1, MULTIKEY_V1],
        "id": did,
        "verificationMethod": [
            {"id": vm_id, "type": "Multikey", "controller": did, "publicKeyMultibase": multikey}
        ],
    }
    for relationship in _SIGNING_RELATIONSHIPS:
        document[relationship] = [vm_id]
    return document


def resolve_did_jwk(did: str) -> dict[str, Any]:
    """did:jwk document (did:jwk spec §2.3 "Read")."""
    encoded = did.removeprefix("did:jwk:")
    try:
        jwk = json.loads(b64url_decode(encoded))
    except (KeyFormatError, ValueError) as err:
        raise ResolutionError(f"invalid did:jwk {did!r}: not base64url JSON") from err
    if not isinstance(jwk, dict):
        raise ResolutionError(f"invalid did:jwk {did!r}: JWK is not an object")
    if "d" in jwk:
        raise ResolutionError("invalid did:jwk: the JWK contains private key material")
    try:
        PublicKey.from_jwk(jwk)
    except KeyFormatError as err:
        raise ResolutionError(f"invalid did:jwk {did!r}: {err}") from err
    vm_id = did + "#0"
    document: dict[str, Any] = {
        "@context": [DID_V1, JWS_2020_V1],
        "id": did,
        "verificationMethod": [
            {"id": vm_id, "type": "JsonWebKey2020", "controller": did, "publicKeyJwk": jwk}
        ],
    }
    use = jwk.get("use")
    if use != "enc":
        for relationship in _SIGNING_RELATIONSHIPS:
            document[relationship] = [vm_id]
    if use != "sig":
        document["keyAgreement"] = [vm_id]
    return document
