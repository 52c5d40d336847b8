"""DID resolution: did:key and did:jwk locally, did:web through a WebFetcher."""

from __future__ import annotations

import json
from typing import Literal

from ler_crypto.did.document import DidDocument
from ler_crypto.did.methods import resolve_did_jwk, resolve_did_key
from ler_crypto.did.web import WebFetcher, did_web_to_url, fetch_with_deadline
from ler_crypto.errors import CryptoError, ResolutionError
from ler_crypto.keys import PublicKey

Relationship = Literal[
    "assertionMethod", "authentication", "capabilityInvocation", "capabilityDelegation"
]
_MAX_DID_LENGTH = 4096
_LOCAL_CACHE_SIZE = 1024


class DidResolver:
    """Resolves DIDs to documents and verification methods to public keys.

    ``did:key`` and ``did:jwk`` are always resolved locally. ``did:web`` needs a
    ``web_fetcher`` (e.g. :class:`~ler_crypto.did.web.HttpsWebFetcher`) and is
    refused when ``offline=True`` or no fetcher is configured.
    """

    def __init__(
        self,
        web_fetcher: WebFetcher | None = None,
        *,
        offline: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.web_fetcher = web_fetcher
        self.offline = offline
        self.timeout = timeout
        # did:key / did:jwk documents are pure functions of the DID: memoize the
        # decoded keys (bounded) so hot verification paths skip re-decoding.
        self._local_keys: dict[tuple[str, str], PublicKey] = {}

    async def resolve(self, did: str) -> DidDocument:
        """Resolve ``did`` (no fragment) to its DID document."""
        if not isinstance(did, str) or not did.startswith("did:"):
            raise ResolutionError(f"not a DID: {did!r}"[:200])
        if len(did) > _MAX_DID_LENGTH:
            raise ResolutionError("DID is too long")
        if "#" in did or "?" in did:
            raise ResolutionError(f"expected a DID without fragment or query: {did!r}")
        method = did.split(":", 2)[1]
        if method == "key":
            return DidDocument(resolve_did_key(did))
        if method == "jwk":
            return DidDocument(resolve_did_jwk(did))
        if method == "web":
            return await self._resolve_web(did)
        raise ResolutionError(f"unsupported DID method 'did:{method}'")

    async def _resolve_web(self, did: str) -> DidDocument:
        if self.offline:
            raise ResolutionError(f"cannot resolve {did!r} offline (did:web needs the network)")
        if self.web_fetcher is None:
            raise ResolutionError(f"cannot resolve {did!r}: no did:web fetcher configured")
        url = did_web_to_url(did)
        body = await fetch_with_deadline(self.web_fetcher, url, self.timeout)
        try:
            data = json.loads(body)
        except ValueError as err:
            raise ResolutionError(f"DID document for {did!r} is not valid JSON") from err
        document = DidDocument(data)
        if document.id != did:  # did:web §3.2: the document id must match the DID
            raise ResolutionError(f"DID document id {document.id!r} does not match {did!r}")
        return document

    async def resolve_verification_method(
        self, vm_id: str, relationship: Relationship | str
    ) -> PublicKey:
        """Public key of ``vm_id`` after checking the DID authorizes it for ``relationship``."""
        if not isinstance(vm_id, str) or "#" not in vm_id:
            raise ResolutionError(
                f"verification method must be a DID URL with a fragment: {vm_id!r}"[:200]
            )
        did = vm_id.split("#", 1)[0]
        local = did.startswith(("did:key:", "did:jwk:"))
        if local:
            cached = self._local_keys.get((vm_id, relationship))
            if cached is not None:
                return cached
        document = await self.resolve(did)
        try:
            document.verification_method(vm_id)
            if not document.authorizes(vm_id, relationship):
                raise ResolutionError(
                    f"verification method {vm_id!r} is not authorized for {relationship!r}"
                )
            key = document.public_key(vm_id)
        except ResolutionError:
            raise
        except CryptoError as err:
            raise ResolutionError(f"verification method {vm_id!r}: {err}") from err
        if local:
            if len(self._local_keys) >= _LOCAL_CACHE_SIZE:
                self._local_keys.clear()
            self._local_keys[(vm_id, relationship)] = key
        return key
