"""Verification on receipt with ``ler_crypto.verifier.verify_credential``.

The wallet checks syntax, data model, proof, issuer key and validity window. It does not
fetch status lists on receipt (status changes reach it as ``ler.credentials.status.v1``
events); the report then says status was not checked, as a warning.
"""

from __future__ import annotations

from ler_crypto.did import DidResolver, HttpsWebFetcher
from ler_crypto.verifier.api import verify_credential

from ler_wallet.service_layer.context import Receipt


class CryptoReceiptVerifier:
    """``ReceiptVerifier`` over ler_crypto; did:web through a bounded HTTPS fetcher."""

    def __init__(self, *, offline: bool = False, allow_private: bool = False) -> None:
        fetcher = None if offline else HttpsWebFetcher(allow_private=allow_private)
        self._resolver = DidResolver(fetcher, offline=offline)

    async def verify(self, credential: str) -> Receipt:
        """Verify and summarise the verdict."""
        report = await verify_credential(credential, resolver=self._resolver)
        failures = report.failures()
        return Receipt(
            report=report.to_dict(),
            verified=report.verified,
            failed_checks=tuple(c.id for c in failures),
            first_failure=f"{failures[0].id}: {failures[0].reason}" if failures else "",
        )
