"""Decentralized identifiers: did:key, did:jwk, did:web and verification methods."""

from ler_crypto.did.document import DidDocument
from ler_crypto.did.methods import did_jwk_from_public_key, did_key_from_public_key
from ler_crypto.did.resolver import DidResolver
from ler_crypto.did.web import HttpsWebFetcher, WebFetcher, did_web_to_url

__all__ = [
    "DidDocument",
    "DidResolver",
    "HttpsWebFetcher",
    "WebFetcher",
    "did_jwk_from_public_key",
    "did_key_from_public_key",
    "did_web_to_url",
]
