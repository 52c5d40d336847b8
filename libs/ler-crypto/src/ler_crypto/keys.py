"""Ed25519 and P-256 keys: generation, signing, Multikey and JWK import/export.

Multikey encoding follows Controlled Identifiers 1.0 §2.2.2 / VC-DI-EDDSA §2.1.1:
``z`` + base58btc(multicodec header || key bytes), with headers
ed25519-pub 0xed01, p256-pub 0x8024 (varint of 0x1200, SEC1 compressed 33 bytes),
ed25519-priv 0x8026 (0x1300) and p256-priv 0x8626 (0x1306).
JWK follows RFC 7517/7518 (EC) and RFC 8037 (OKP); thumbprints RFC 7638.

Private key bytes never appear in ``repr``/``str`` or in exception messages.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ler_crypto.errors import KeyFormatError
from ler_crypto.multibase import (
    ED25519_PRIV,
    ED25519_PUB,
    P256_PRIV,
    P256_PUB,
    b64url_decode,
    b64url_encode,
    multibase_decode,
    multibase_encode_b58,
    split_multicodec,
)

Curve = Literal["Ed25519", "P-256"]
Algorithm = Literal["EdDSA", "ES256"]

_ALGORITHM: dict[str, Algorithm] = {"Ed25519": "EdDSA", "P-256": "ES256"}
_PUB_HEADERS = {ED25519_PUB: "Ed25519", P256_PUB: "P-256"}
_PRIV_HEADERS = {ED25519_PRIV: "Ed25519", P256_PRIV: "P-256"}
_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


class PublicKey:
    """A public verification key (Ed25519 or P-256).

    ``raw`` is the Multikey payload: 32 bytes for Ed25519, the 33-byte SEC1
    compressed point for P-256.
    """

    __slots__ = ("_key", "curve", "raw")

    def __init__(self, curve: Curve, raw: bytes) -> None:
        if curve == "Ed25519":
            if len(raw) != 32:
                raise KeyFormatError("Ed25519 public key must be 32 bytes")
            try:
                self._key: Any = ed25519.Ed25519PublicKey.from_public_bytes(raw)
            except ValueError as err:
                raise KeyFormatError("invalid Ed25519 public key") from err
        elif curve == "P-256":
            if len(raw) == 65:  # accept uncompressed, store compressed
                raw = _p256_from_encoded(raw).public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
                )
            if len(raw) != 33:
                raise KeyFormatError("P-256 public key must be a 33-byte compressed point")
            self._key = _p256_from_encoded(raw)
        else:
            raise KeyFormatError(f"unsupported curve {curve!r} (expected Ed25519 or P-256)")
        self.curve: Curve = curve
        self.raw: bytes = bytes(raw)

    @property
    def algorithm(self) -> Algorithm:
        """JOSE algorithm name: ``EdDSA`` or ``ES256``."""
        return _ALGORITHM[self.curve]

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Check ``signature`` over ``data``; False for any bad signature (never raises for it).

        P-256 signatures are the 64-byte IEEE P1363 form ``r || s`` (as in JWS and
        Data Integrity), not DER.
        """
        if not isinstance(signature, bytes | bytearray) or not isinstance(data, bytes | bytearray):
            return False
        try:
            if self.curve == "Ed25519":
                if len(signature) != 64:
                    return False
                self._key.verify(bytes(signature), bytes(data))
            else:
                if len(signature) != 64:
                    return False
                r = int.from_bytes(signature[:32], "big")
                s = int.from_bytes(signature[32:], "big")
                if not (0 < r < _P256_ORDER and 0 < s < _P256_ORDER):
                    return False
                self._key.verify(encode_dss_signature(r, s), bytes(data), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    def to_multikey(self) -> str:
        """Multikey ``publicKeyMultibase`` (``z6Mk...`` Ed25519, ``zDn...`` P-256)."""
        header = ED25519_PUB if self.curve == "Ed25519" else P256_PUB
        return multibase_encode_b58(header + self.raw)

    @classmethod
    def from_multikey(cls, value: str) -> PublicKey:
        """Parse a Multikey ``publicKeyMultibase`` value."""
        data = multibase_decode(value)
        if not value.startswith("z"):
            raise KeyFormatError("Multikey publicKeyMultibase must be base58btc ('z' prefix)")
        curve, payload = split_multicodec(data, _PUB_HEADERS)
        return cls(curve, payload)  # type: ignore[arg-type]

    def to_jwk(self) -> dict[str, str]:
        """Public JWK: OKP/Ed25519 (RFC 8037) or EC/P-256 (RFC 7518 §6.2)."""
        if self.curve == "Ed25519":
            return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(self.raw)}
        numbers = self._key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(32, "big")),
            "y": b64url_encode(numbers.y.to_bytes(32, "big")),
        }

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any]) -> PublicKey:
        """Parse a public JWK (private members, if present, are ignored)."""
        curve = _jwk_curve(jwk)
        if curve == "Ed25519":
            return cls("Ed25519", _jwk_bytes(jwk, "x", 32))
        x = _jwk_bytes(jwk, "x", 32)
        y = _jwk_bytes(jwk, "y", 32)
        return cls("P-256", b"\x04" + x + y)

    def jwk_thumbprint(self) -> str:
        """RFC 7638 JWK thumbprint (SHA-256, base64url)."""
        jwk = self.to_jwk()
        members = ("crv", "kty", "x") if self.curve == "Ed25519" else ("crv", "kty", "x", "y")
        canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
        return b64url_encode(hashlib.sha256(canonical.encode()).digest())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.curve == self.curve and other.raw == self.raw

    def __hash__(self) -> int:
        return hash((self.curve, self.raw))

    def __repr__(self) -> str:
        return f"PublicKey({self.curve}, {self.to_multikey()})"


@runtime_checkable
class Signer(Protocol):
    """Anything that can sign: an in-memory KeyPair or a KMS-backed key."""

    # Read-only properties (not plain attributes), so that implementations may
    # expose them as properties -- KeyPair does -- and still satisfy the protocol.
    @property
    def algorithm(self) -> str:
        """JOSE algorithm name of the key, e.g. ``EdDSA`` or ``ES256``."""
        ...

    @property
    def public_key(self) -> PublicKey:
        """The public key that verifies this signer's signatures."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``; Ed25519 → 64 bytes, P-256 → 64-byte ``r || s``."""
        ...


class KeyPair:
    """A private key with its public key. Implements :class:`Signer`.

    The private key is kept inside a ``cryptography`` key object; ``repr`` and
    ``str`` show only the curve and public Multikey.
    """

    __slots__ = ("_private", "curve", "public_key")

    def __init__(self, curve: Curve, private_key: Any) -> None:
        self.curve: Curve = curve
        self._private = private_key
        if curve == "Ed25519":
            raw = private_key.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        else:
            raw = private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
            )
        self.public_key = PublicKey(curve, raw)

    @property
    def algorithm(self) -> Algorithm:
        """JOSE algorithm name: ``EdDSA`` or ``ES256``."""
        return _ALGORITHM[self.curve]

    @classmethod
    def generate(cls, curve: Curve = "Ed25519") -> KeyPair:
        """Generate a fresh key pair on ``curve``."""
        if curve == "Ed25519":
            return cls(curve, ed25519.Ed25519PrivateKey.generate())
        if curve == "P-256":
            return cls(curve, ec.generate_private_key(ec.SECP256R1()))
        raise KeyFormatError(f"unsupported curve {curve!r} (expected Ed25519 or P-256)")

    @classmethod
    def from_private_bytes(cls, curve: Curve, secret: bytes) -> KeyPair:
        """Build from the 32-byte Ed25519 seed or 32-byte P-256 scalar."""
        if not isinstance(secret, bytes | bytearray) or len(secret) != 32:
            raise KeyFormatError(f"{curve} private key must be 32 bytes")
        if curve == "Ed25519":
            return cls(curve, ed25519.Ed25519PrivateKey.from_private_bytes(bytes(secret)))
        if curve == "P-256":
            scalar = int.from_bytes(secret, "big")
            if not 0 < scalar < _P256_ORDER:
                raise KeyFormatError("P-256 private scalar is out of range")
            return cls(curve, ec.derive_private_key(scalar, ec.SECP256R1()))
        raise KeyFormatError(f"unsupported curve {curve!r} (expected Ed25519 or P-256)")

    def private_bytes(self) -> bytes:
        """The 32-byte seed/scalar. Handle with care: for KMS wrapping and export only."""
        if self.curve == "Ed25519":
            raw: bytes = self._private.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            return raw
        scalar: int = self._private.private_numbers().private_value
        return scalar.to_bytes(32, "big")

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``: Ed25519 (RFC 8032) or ECDSA P-256/SHA-256 as 64-byte ``r || s``."""
        if self.curve == "Ed25519":
            signature: bytes = self._private.sign(data)
            return signature
        der = self._private.sign(data, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def to_private_multikey(self) -> str:
        """``secretKeyMultibase`` (``z3u2...`` for Ed25519)."""
        header = ED25519_PRIV if self.curve == "Ed25519" else P256_PRIV
        return multibase_encode_b58(header + self.private_bytes())

    @classmethod
    def from_private_multikey(cls, value: str) -> KeyPair:
        """Parse a private Multikey (ed25519-priv 0x1300 / p256-priv 0x1306)."""
        if not isinstance(value, str) or not value.startswith("z"):
            raise KeyFormatError("private Multikey must be base58btc ('z' prefix)")
        curve, payload = split_multicodec(multibase_decode(value), _PRIV_HEADERS)
        return cls.from_private_bytes(curve, payload)  # type: ignore[arg-type]

    def to_private_jwk(self) -> dict[str, str]:
        """Private JWK (public members plus ``d``)."""
        jwk = self.public_key.to_jwk()
        jwk["d"] = b64url_encode(self.private_bytes())
        return jwk

    @classmethod
    def from_private_jwk(cls, jwk: dict[str, Any]) -> KeyPair:
        """Parse a private JWK and check that its public members match ``d``."""
        curve = _jwk_curve(jwk)
        pair = cls.from_private_bytes(curve, _jwk_bytes(jwk, "d", 32))
        if PublicKey.from_jwk(jwk) != pair.public_key:
            raise KeyFormatError("private JWK: public members do not match the private key")
        return pair

    def __repr__(self) -> str:
        return f"KeyPair({self.curve}, public={self.public_key.to_multikey()})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # Refuse pickling: it would write raw private bytes somewhere unexpected.
        raise TypeError("KeyPair cannot be pickled; use kms.EnvelopeCipher to store keys")


def _p256_from_encoded(data: bytes) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(data))
    except ValueError as err:
        raise KeyFormatError("invalid P-256 public key point") from err


def _jwk_curve(jwk: Any) -> Curve:
    if not isinstance(jwk, dict):
        raise KeyFormatError("JWK must be a JSON object")
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        return "Ed25519"
    if kty == "EC" and crv == "P-256":
        return "P-256"
    raise KeyFormatError(
        f"unsupported JWK kty/crv {kty!r}/{crv!r} (expected OKP/Ed25519 or EC/P-256)"
    )


def _jwk_bytes(jwk: dict[str, Any], member: str, length: int) -> bytes:
    value = jwk.get(member)
    if not isinstance(value, str):
        raise KeyFormatError(f"JWK member {member!r} is missing or not a string")
    data = b64url_decode(value)
    if len(data) != length:
        raise KeyFormatError(f"JWK member {member!r} must decode to {length} bytes")
    return data


__all__ = ["Algorithm", "Curve", "KeyPair", "PublicKey", "Signer"]
