"""JSON-LD document loader that serves only bundled contexts.

Never touches the network by default (VERIFY-CHECKLIST item 2: "Resolve them only
from a local allow-list, with no network, and reject unknown URLs"). Anything not
bundled or passed in ``extra`` raises :class:`UnknownContextError` naming the URL;
this also stops contexts that try to pull in remote documents via ``@import`` or
nested context URLs, because every URL goes through :meth:`ContextLoader.load`.
"""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path
from typing import Any

from ler_crypto.errors import MalformedInputError, ResolutionError, UnknownContextError

CONTEXT_DIR = Path(__file__).resolve().parent / "contexts"

#: Context URL → bundled file name (in ``ler_crypto/contexts/``).
BUNDLED: dict[str, str] = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://www.w3.org/2018/credentials/v1": "credentials-v1.jsonld",
    "https://www.w3.org/ns/credentials/examples/v2": "credentials-examples-v2.jsonld",
    "https://w3id.org/security/data-integrity/v2": "data-integrity-v2.jsonld",
    "https://w3id.org/security/data-integrity/v1": "data-integrity-v1.jsonld",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
    "https://www.w3.org/ns/did/v1": "did-v1.jsonld",
    "https://www.w3.org/ns/credentials/status/v1": "vc-bitstring-status-list-v1.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "1edtech-ob-v3p0-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json": "1edtech-ob-v3p0-3.0.2.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json": "1edtech-ob-v3p0-3.0.1.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context.json": "1edtech-ob-v3p0.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "1edtech-ob-v3p0-extensions.json",
    "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json": "1edtech-clr-v2p0-2.0.1.json",
    "https://purl.imsglobal.org/spec/clr/v2p0/context.json": "1edtech-clr-v2p0.json",
}

#: Upper bound for a context fetched with ``allow_network=True``.
MAX_REMOTE_CONTEXT_BYTES = 1_000_000
REMOTE_CONTEXT_TIMEOUT_S = 5.0


@functools.cache
def _bundled_bytes(filename: str) -> bytes:
    return (CONTEXT_DIR / filename).read_bytes()


class ContextLoader:
    """Serves JSON-LD context documents from the bundle (plus optional extras).

    ``extra`` maps additional URLs to context documents (e.g. a test suite's
    context). Bundled URLs cannot be overridden. ``allow_network=True`` permits
    bounded HTTPS fetches of other URLs (public addresses only); it is off by
    default and should stay off in services.
    """

    def __init__(
        self, extra: dict[str, dict[str, Any]] | None = None, allow_network: bool = False
    ) -> None:
        self._extra: dict[str, bytes] = {}
        for url, document in (extra or {}).items():
            if url in BUNDLED:
                raise ValueError(f"context {url!r} is bundled and cannot be overridden")
            if not isinstance(document, dict):
                raise ValueError(f"extra context {url!r} must be a JSON object")
            self._extra[url] = json.dumps(document).encode()
        self.allow_network = allow_network
        self._remote: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._resolver_cache: Any = None

    def is_known(self, url: str) -> bool:
        """True when ``url`` is served without touching the network."""
        return url in BUNDLED or url in self._extra or url in self._remote

    def is_bundled(self, url: str) -> bool:
        """True when ``url`` is one of the immutable bundled contexts."""
        return url in BUNDLED

    def load(self, url: str) -> dict[str, Any]:
        """Return a fresh copy of the context document for ``url``.

        Raises :class:`UnknownContextError` (naming the URL) for anything not
        bundled/extra, unless network access was explicitly allowed.
        """
        if not isinstance(url, str):
            raise MalformedInputError(
                f"context reference must be a URL string, got {type(url).__name__}"
            )
        raw = self._raw(url)
        document: dict[str, Any] = json.loads(raw)
        return document  # a fresh copy: pyld mutates context documents in place

    def _raw(self, url: str) -> bytes:
        filename = BUNDLED.get(url)
        if filename is not None:
            return _bundled_bytes(filename)
        raw = self._extra.get(url) or self._remote.get(url)
        if raw is not None:
            return raw
        if not self.allow_network:
            raise UnknownContextError(url)
        fetched = _fetch_remote_context(url)
        with self._lock:
            self._remote[url] = fetched
        return fetched

    def pyld_loader(self, url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """pyld ``documentLoader`` callable: returns a RemoteDocument for ``url``.

        Bundled contexts are tagged ``static`` so pyld may cache their processed
        form; extras and remote ones are not.
        """
        document = self.load(url)
        remote: dict[str, Any] = {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": document,
        }
        if url in BUNDLED:
            remote["tag"] = "static"
        return remote

    def pyld_context_resolver(self) -> Any:
        """A pyld ContextResolver whose cache belongs to this loader only.

        pyld's default resolver shares one process-wide cache keyed by URL; a
        private cache keeps one loader's extras from leaking into another's.
        """
        from cachetools import LRUCache
        from pyld.context_resolver import ContextResolver  # type: ignore[import-untyped, unused-ignore]

        with self._lock:
            if self._resolver_cache is None:
                self._resolver_cache = LRUCache(maxsize=256)
        return ContextResolver(self._resolver_cache, self.pyld_loader)

    def __repr__(self) -> str:
        return (
            f"ContextLoader(bundled={len(BUNDLED)}, extra={sorted(self._extra)}, "
            f"allow_network={self.allow_network})"
        )


def _fetch_remote_context(url: str) -> bytes:
    """Bounded HTTPS GET of a context (only with allow_network=True)."""
    from ler_crypto.did.web import check_public_host, fetch_https_sync

    if not url.startswith("https://"):
        raise UnknownContextError(url, f"refusing to fetch non-HTTPS context {url!r}")
    try:
        check_public_host(url)
        body = fetch_https_sync(url, MAX_REMOTE_CONTEXT_BYTES, REMOTE_CONTEXT_TIMEOUT_S)
        document = json.loads(body)
    except ResolutionError as err:
        raise UnknownContextError(url, f"could not fetch context {url!r}: {err}") from err
    except ValueError as err:
        raise UnknownContextError(url, f"context {url!r} is not valid JSON") from err
    if not isinstance(document, dict):
        raise UnknownContextError(url, f"context {url!r} is not a JSON object")
    return json.dumps(document).encode()


_DEFAULT: ContextLoader | None = None
_DEFAULT_LOCK = threading.Lock()


def default_loader() -> ContextLoader:
    """Process-wide loader serving only the bundled contexts (no network)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = ContextLoader()
        return _DEFAULT


__all__ = ["BUNDLED", "CONTEXT_DIR", "ContextLoader", "default_loader"]
