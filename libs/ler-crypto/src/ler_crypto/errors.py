"""Exceptions raised by ler_crypto.

Every error the library raises derives from :class:`CryptoError`, so callers can
catch one class at the boundary. Messages name the problem (the URL, the term,
the check that failed) but never carry key material.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error raised by ler_crypto."""


class MalformedInputError(CryptoError):
    """Input is not acceptable JSON: wrong types, too large or too deeply nested."""


class UnknownContextError(CryptoError):
    """A JSON-LD context URL is neither bundled nor explicitly allowed."""

    def __init__(self, url: str, message: str | None = None) -> None:
        self.url = url
        super().__init__(message or f"unknown JSON-LD context {url!r}: not bundled and not allowed")


class DataLossError(CryptoError):
    """A term or IRI would be silently dropped by JSON-LD processing (safe mode)."""

    def __init__(self, term: str, message: str | None = None) -> None:
        self.term = term
        super().__init__(message or f"JSON-LD data loss: {term!r} is not defined by any context")


class KeyFormatError(CryptoError):
    """A key (Multikey, JWK, raw bytes, encrypted blob) cannot be parsed or used."""


class ResolutionError(CryptoError):
    """A DID, verification method or remote document could not be resolved."""


class ProofError(CryptoError):
    """A proof is malformed or does not verify; the message names the failed check."""


class StatusListError(CryptoError):
    """A Bitstring Status List or entry is malformed or cannot be checked."""


class SdJwtError(CryptoError):
    """An SD-JWT (VC) is malformed or does not verify."""


__all__ = [
    "CryptoError",
    "DataLossError",
    "KeyFormatError",
    "MalformedInputError",
    "ProofError",
    "ResolutionError",
    "SdJwtError",
    "StatusListError",
    "UnknownContextError",
]
