"""DID documents and verification-method lookup (DID Core 1.0 §5)."""

from __future__ import annotations

from typing import Any

from ler_crypto.errors import KeyFormatError, ResolutionError
from ler_crypto.keys import PublicKey
from ler_crypto.multibase import ED25519_PUB, b58decode, multibase_decode

RELATIONSHIPS = (
    "assertionMethod",
    "authentication",
    "capabilityInvocation",
    "capabilityDelegation",
    "keyAgreement",
)


class DidDocument:
    """A resolved DID document (wraps the JSON object).

    Verification methods may be listed under ``verificationMethod`` or embedded
    directly in a relationship array; references may be absolute DID URLs or
    relative fragments (``#key-1``), resolved against the document ``id``.
    """

    __slots__ = ("data", "id")

    def __init__(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            raise ResolutionError("DID document must be a JSON object")
        doc_id = data.get("id")
        if not isinstance(doc_id, str) or not doc_id.startswith("did:"):
            raise ResolutionError("DID document has no valid 'id'")
        self.data = data
        self.id: str = doc_id

    def _absolute(self, ref: str) -> str:
        return self.id + ref if ref.startswith("#") else ref

    def _methods(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for key in ("verificationMethod", *RELATIONSHIPS):
            entries = self.data.get(key, [])
            if isinstance(entries, dict):
                entries = [entries]
            if isinstance(entries, list):
                found.extend(e for e in entries if isinstance(e, dict))
        return found

    def verification_method(self, vm_id: str) -> dict[str, Any]:
        """The verification method object with id ``vm_id`` (absolute or ``#frag``)."""
        target = self._absolute(vm_id)
        for method in self._methods():
            method_id = method.get("id")
            if isinstance(method_id, str) and self._absolute(method_id) == target:
                return method
        raise ResolutionError(f"verification method {vm_id!r} not found in {self.id!r}")

    def authorizes(self, vm_id: str, relationship: str) -> bool:
        """True when ``vm_id`` is listed (by reference or embedded) under ``relationship``."""
        entries = self.data.get(relationship, [])
        if isinstance(entries, str | dict):
            entries = [entries]
        if not isinstance(entries, list):
            return False
        target = self._absolute(vm_id)
        for entry in entries:
            ref = entry.get("id") if isinstance(entry, dict) else entry
            if isinstance(ref, str) and self._absolute(ref) == target:
                return True
        return False

    def public_key(self, vm_id: str) -> PublicKey:
        """Decode the key of verification method ``vm_id``.

        Supports Multikey (``publicKeyMultibase``), JsonWebKey/JsonWebKey2020
        (``publicKeyJwk``), and the legacy Ed25519VerificationKey2020
        (multibase with the ed25519-pub header) and Ed25519VerificationKey2018
        (``publicKeyBase58``, raw 32 bytes).
        """
        method = self.verification_method(vm_id)
        controller = method.get("controller")
        if controller is not None and controller != self.id:
            raise ResolutionError(
                f"verification method {vm_id!r} is controlled by {controller!r}, not {self.id!r}"
            )
        try:
            return _decode_method_key(method)
        except KeyFormatError as err:
            raise ResolutionError(f"verification method {vm_id!r}: {err}") from err

    def __repr__(self) -> str:
        return f"DidDocument({self.id!r})"


def _decode_method_key(method: dict[str, Any]) -> PublicKey:
    vm_type = method.get("type")
    if "publicKeyMultibase" in method:
        value = method["publicKeyMultibase"]
        if vm_type == "Ed25519VerificationKey2020":
            data = multibase_decode(value)
            if data[:2] != ED25519_PUB:
                raise KeyFormatError("Ed25519VerificationKey2020 key lacks the ed25519-pub header")
            return PublicKey("Ed25519", data[2:])
        return PublicKey.from_multikey(value)
    if "publicKeyJwk" in method:
        return PublicKey.from_jwk(method["publicKeyJwk"])
    if "publicKeyBase58" in method and vm_type == "Ed25519VerificationKey2018":
        return PublicKey("Ed25519", b58decode(method["publicKeyBase58"]))
    raise KeyFormatError(f"unsupported verification method type {vm_type!r} or key encoding")
