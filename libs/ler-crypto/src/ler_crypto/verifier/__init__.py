"""The verification orchestrator: runs VERIFY-CHECKLIST.md in order and builds a report.

Nothing here raises for bad input. Whatever arrives — a dict, JSON text, an SD-JWT VC, garbage —
the result is a :class:`~ler_crypto.report.VerificationReport` whose checks say what passed,
failed, or could not be checked, and why. Input that cannot be parsed at all gets a failed
``parse`` check and ``malformed=True``.

A credential's verification has two phases (:mod:`ler_crypto.verifier.phases`):
:func:`prepare_credential` is offline CPU work on the document alone (parse, data model, JSON-LD,
profile) and returns plain, picklable data, so a caller may run it on another process;
:func:`complete_credential` does the rest. :func:`verify_credential` is the two in sequence.

Network access happens only through what the caller passes in: the :class:`DidResolver` (did:web
via its fetcher), the :class:`StatusListFetcher`, and the context loader.
"""

from ler_crypto.verifier.api import verify_credential, verify_document, verify_presentation
from ler_crypto.verifier.options import VC_PURPOSE, VP_PURPOSE, StatusListFetcher, VerifyOptions
from ler_crypto.verifier.phases import (
    PreparedCredential,
    Stage,
    complete_credential,
    prepare_credential,
)
from ler_crypto.verifier.status import CachingStatusListFetcher

__all__ = [
    "VC_PURPOSE",
    "VP_PURPOSE",
    "CachingStatusListFetcher",
    "PreparedCredential",
    "Stage",
    "StatusListFetcher",
    "VerifyOptions",
    "complete_credential",
    "prepare_credential",
    "verify_credential",
    "verify_document",
    "verify_presentation",
]
