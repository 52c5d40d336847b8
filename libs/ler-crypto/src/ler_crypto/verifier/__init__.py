"""The verification orchestrator: runs VERIFY-CHECKLIST.md in order and builds a report.

Nothing here raises for bad input. Whatever arrives — a dict, JSON text, an SD-JWT VC, garbage —
the result is a :class:`~ler_crypto.report.VerificationReport` whose checks say what passed,
failed, or could not be checked, and why. Input that cannot be parsed at all gets a failed
``parse`` check and ``malformed=True``.

Network access happens only through what the caller passes in: the :class:`DidResolver` (did:web
via its fetcher), the :class:`StatusListFetcher`, and the context loader.
"""

from ler_crypto.verifier.api import verify_credential, verify_document, verify_presentation
from ler_crypto.verifier.options import VC_PURPOSE, VP_PURPOSE, StatusListFetcher, VerifyOptions
from ler_crypto.verifier.status import CachingStatusListFetcher

__all__ = [
    "VC_PURPOSE",
    "VP_PURPOSE",
    "CachingStatusListFetcher",
    "StatusListFetcher",
    "VerifyOptions",
    "verify_credential",
    "verify_document",
    "verify_presentation",
]
