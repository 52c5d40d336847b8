"""JWS Compact Serialization (RFC 7515 §7.1) for EdDSA (RFC 8037) and ES256 (RFC 7518 §3.4).

Signing goes through :class:`ler_crypto.keys.Signer`, so a KMS-backed key works too. ES256
signatures are the 64-byte ``r || s`` form JWS requires (keys.py already produces and expects
that). Only the two algorithms this project issues with are accepted; ``none`` and anything
else are rejected before any cryptography runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ler_crypto.errors import CryptoError, SdJwtError
from ler_crypto.keys import PublicKey, Signer
from ler_crypto.limits import parse_json
from ler_crypto.multibase import b64url_decode, b64url_encode

SUPPORTED_ALGS = frozenset({"EdDSA", "ES256"})
#: Bound on a compact JWS we are willing to parse (credentials are a few KB).
MAX_JWS_CHARS = 1_000_000


def _json_b64(obj: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())


def sign_compact(header: dict[str, Any], payload: dict[str, Any], signer: Signer) -> str:
    """Produce ``b64url(header).b64url(payload).b64url(signature)``; ``alg`` comes from the key."""
    header = {"alg": signer.algorithm, **{k: v for k, v in header.items() if k != "alg"}}
    signing_input = f"{_json_b64(header)}.{_json_b64(payload)}"
    signature = signer.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


@dataclass(frozen=True)
class ParsedJws:
    """A compact JWS split into its parts; nothing is verified yet."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes

    def verify(self, key: PublicKey) -> None:
        """Check ``alg`` against the key and the signature; raise :class:`SdJwtError` if bad."""
        alg = self.header.get("alg")
        if alg not in SUPPORTED_ALGS:
            raise SdJwtError(f"JWS alg {alg!r} is not supported (EdDSA or ES256)")
        if alg != key.algorithm:
            raise SdJwtError(f"JWS alg {alg!r} does not match the {key.curve} verification key")
        if not key.verify(self.signature, self.signing_input):
            raise SdJwtError("JWS signature does not verify")


def parse_compact(token: Any, *, what: str = "JWT") -> ParsedJws:
    """Split and decode a compact JWS; header and payload must be JSON objects."""
    if not isinstance(token, str) or len(token) > MAX_JWS_CHARS:
        raise SdJwtError(f"{what} must be a compact JWS string of at most {MAX_JWS_CHARS} chars")
    parts = token.split(".")
    if len(parts) != 3:
        raise SdJwtError(f"{what} must have three dot-separated parts, found {len(parts)}")
    try:
        header = parse_json(b64url_decode(parts[0]))
        payload = parse_json(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except CryptoError as err:
        raise SdJwtError(f"{what} is not valid base64url JSON: {err}") from err
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise SdJwtError(f"{what} header and payload must be JSON objects")
    if "crit" in header:
        # RFC 7515 §4.1.11: we understand no extensions, so any critical one means reject.
        raise SdJwtError(f"{what} uses critical header parameters {header['crit']!r}")
    return ParsedJws(header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)
