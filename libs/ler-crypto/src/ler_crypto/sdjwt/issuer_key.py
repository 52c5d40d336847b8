"""Finding the key a JWT issuer signed with: ``kid`` as a DID URL, or the issuer DID's first
``assertionMethod``. Used for SD-JWT VCs and for the Status List Tokens they reference, so both
resolve their keys the same way. (JWT VC issuer metadata and x5c chains are not supported.)"""

from __future__ import annotations

from typing import Any

from ler_crypto.did import DidResolver
from ler_crypto.errors import CryptoError
from ler_crypto.keys import PublicKey

#: Proof purpose an issuer's signing key must be listed under.
ASSERTION_METHOD = "assertionMethod"


async def issuer_verification_method(
    header: dict[str, Any], iss: Any, resolver: DidResolver
) -> str:
    """The verification method id that signed a JWT with this ``header`` and issuer ``iss``."""
    kid = header.get("kid")
    if isinstance(kid, str) and kid.startswith("did:"):
        return kid
    if not isinstance(iss, str) or not iss.startswith("did:"):
        raise CryptoError(
            f"cannot find the issuer key: iss {iss!r} is not a DID and kid {kid!r} is not a "
            "DID URL (JWT VC issuer metadata / x5c are not supported)"
        )
    if isinstance(kid, str) and kid.startswith("#"):
        return iss + kid
    document = await resolver.resolve(iss)
    methods = document.data.get("assertionMethod", [])
    first = methods[0] if isinstance(methods, list) and methods else None
    ref = first.get("id") if isinstance(first, dict) else first
    if not isinstance(ref, str):
        raise CryptoError(f"issuer {iss} has no assertionMethod")
    return iss + ref if ref.startswith("#") else ref


async def resolve_issuer_key(
    header: dict[str, Any], iss: Any, resolver: DidResolver
) -> tuple[str, PublicKey]:
    """The verification method and public key of issuer ``iss`` named by ``header``.

    Raises :class:`CryptoError` when the key cannot be resolved, is not an ``assertionMethod``,
    or belongs to another DID than ``iss``.
    """
    vm_id = await issuer_verification_method(header, iss, resolver)
    key = await resolver.resolve_verification_method(vm_id, ASSERTION_METHOD)
    if isinstance(iss, str) and vm_id.split("#", 1)[0] != iss:
        raise CryptoError(f"{vm_id} does not belong to the issuer {iss}")
    return vm_id, key
