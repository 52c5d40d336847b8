"""did:web: DID → URL mapping and a guarded HTTPS fetcher.

URL construction follows the did:web method specification §3.2 (Read): the
method-specific id's colons become path separators, a percent-encoded port
(``%3A``) is decoded, and ``/.well-known/did.json`` is used when there is no path.

:class:`HttpsWebFetcher` bounds every fetch (size, timeout), caches responses
with a TTL and refuses private, loopback, link-local and other non-public
addresses — every address a host resolves to is checked, and the connection is
made only to vetted addresses (no DNS-rebinding window) — unless
``allow_private=True``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
import urllib.parse
import urllib.request
from typing import Protocol, runtime_checkable

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from ler_crypto.errors import ResolutionError

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_PATH_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_~%!$&'()*+,;=@"
)


def did_web_to_url(did: str) -> str:
    """Map ``did:web:host[%3Aport][:path...]`` to its ``did.json`` HTTPS URL."""
    if not did.startswith("did:web:"):
        raise ResolutionError(f"not a did:web identifier: {did!r}")
    parts = did.removeprefix("did:web:").split(":")
    host_part, path = parts[0], parts[1:]
    host = urllib.parse.unquote(host_part)
    hostname, _, port = host.partition(":")
    if not hostname or not set(hostname) <= _HOST_CHARS or (port and not port.isdigit()):
        raise ResolutionError(f"invalid did:web host in {did!r}")
    if port and not 0 < int(port) < 65536:
        raise ResolutionError(f"invalid did:web port in {did!r}")
    for segment in path:
        if not segment or not set(segment) <= _PATH_CHARS or segment in (".", ".."):
            raise ResolutionError(f"invalid did:web path segment in {did!r}")
    if path:
        return f"https://{host}/" + "/".join(path) + "/did.json"
    return f"https://{host}/.well-known/did.json"


@runtime_checkable
class WebFetcher(Protocol):
    """Fetches a document over HTTPS for did:web; raises ResolutionError on failure."""

    async def fetch(self, url: str) -> bytes:
        """Return the response body of a successful GET of ``url``."""
        ...


def is_public_address(address: str) -> bool:
    """True for globally routable unicast addresses (IPv4-mapped IPv6 unwrapped)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
        or not ip.is_global
    )


def _literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def check_public_host(url: str) -> None:
    """Synchronously resolve the URL's host and refuse any non-public address."""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    except OSError as err:
        raise ResolutionError(f"cannot resolve host {host!r}") from err
    for info in infos:
        if not is_public_address(str(info[4][0])):
            raise ResolutionError(f"refusing non-public address for host {host!r}")


def fetch_https_sync(url: str, max_bytes: int, timeout: float) -> bytes:
    """Small blocking HTTPS GET with size and time bounds (opt-in context fetching)."""
    if not url.startswith("https://"):
        raise ResolutionError("only https:// URLs may be fetched")
    request = urllib.request.Request(
        url, headers={"Accept": "application/ld+json, application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: bytes = response.read(max_bytes + 1)
    except OSError as err:
        raise ResolutionError(f"fetching {url!r} failed: {type(err).__name__}") from err
    if len(body) > max_bytes:
        raise ResolutionError(f"response from {url!r} exceeds {max_bytes} bytes")
    return body


class HttpsWebFetcher:
    """Default :class:`WebFetcher` on aiohttp, bounded and cached.

    * ``max_bytes``: largest accepted body (default 256 KiB);
    * ``timeout``: total seconds per request (connect + read);
    * ``ttl``: seconds a successful response stays cached;
    * ``allow_private``: permit private/loopback/link-local addresses (tests, intranets);
    * ``ssl_context``: custom trust store (e.g. a test CA).

    Redirects are not followed; only ``https://`` URLs are fetched.
    """

    def __init__(
        self,
        *,
        max_bytes: int = 256 * 1024,
        timeout: float = 5.0,
        ttl: float = 300.0,
        allow_private: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        max_cache_entries: int = 1024,
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.ttl = ttl
        self.allow_private = allow_private
        self._ssl = ssl_context
        self._max_cache_entries = max_cache_entries
        self._cache: dict[str, tuple[float, bytes]] = {}

    async def fetch(self, url: str) -> bytes:
        """GET ``url`` (from cache if fresh); raises ResolutionError with a reason."""
        now = time.monotonic()
        cached = self._cache.get(url)
        if cached is not None and cached[0] > now:
            return cached[1]
        body = await self._get(url)
        if len(self._cache) >= self._max_cache_entries:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= self._max_cache_entries:
                self._cache.pop(next(iter(self._cache)))
        self._cache[url] = (now + self.ttl, body)
        return body

    async def _get(self, url: str) -> bytes:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise ResolutionError(f"refusing to fetch {url!r}: only https:// URLs are allowed")
        literal = _literal_ip(parts.hostname)
        if literal is not None and not self.allow_private and not is_public_address(literal):
            raise ResolutionError(f"refusing to fetch {url!r}: non-public address")
        connector = aiohttp.TCPConnector(
            resolver=_GuardedResolver(self.allow_private),
            ssl=self._ssl or True,
            use_dns_cache=False,
        )
        try:
            async with (
                aiohttp.ClientSession(
                    connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout)
                ) as session,
                session.get(
                    url,
                    allow_redirects=False,
                    headers={"Accept": "application/did+json, application/json"},
                ) as response,
            ):
                if response.status != 200:
                    raise ResolutionError(f"fetching {url!r} returned HTTP {response.status}")
                if response.content_length is not None and response.content_length > self.max_bytes:
                    raise ResolutionError(f"response from {url!r} exceeds {self.max_bytes} bytes")
                body = await response.content.read(self.max_bytes + 1)
                if len(body) > self.max_bytes:
                    raise ResolutionError(f"response from {url!r} exceeds {self.max_bytes} bytes")
                return body
        except ResolutionError:
            raise
        except TimeoutError as err:
            raise ResolutionError(f"fetching {url!r} timed out after {self.timeout}s") from err
        except aiohttp.ClientConnectorError as err:
            cause = err.os_error if isinstance(err.os_error, ResolutionError) else None
            if cause is not None:
                raise ResolutionError(f"refusing to fetch {url!r}: {cause}") from err
            raise ResolutionError(f"fetching {url!r} failed: cannot connect") from err
        except (aiohttp.ClientError, OSError) as err:
            reason = err if isinstance(err, ResolutionError) else type(err).__name__
            raise ResolutionError(f"fetching {url!r} failed: {reason}") from err


class _RefusedAddress(OSError, ResolutionError):
    """Raised inside the resolver when a host resolves to a refused address."""


class _GuardedResolver(AbstractResolver):
    """Resolves with the system resolver, then refuses non-public addresses.

    aiohttp connects only to the addresses returned here, so the check cannot be
    bypassed by a second, different DNS answer (rebinding).
    """

    def __init__(self, allow_private: bool) -> None:
        self._inner = ThreadedResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self._allow_private:
            for result in results:
                if not is_public_address(result["host"]):
                    # an OSError so aiohttp reports it as a connector (DNS) error
                    raise _RefusedAddress(f"host {host!r} resolves to a non-public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


async def fetch_with_deadline(fetcher: WebFetcher, url: str, deadline_s: float) -> bytes:
    """Call a caller-supplied fetcher with an outer deadline and error mapping."""
    try:
        async with asyncio.timeout(deadline_s):
            return await fetcher.fetch(url)
    except ResolutionError:
        raise
    except TimeoutError as err:
        raise ResolutionError(f"fetching {url!r} timed out after {deadline_s}s") from err
    except Exception as err:
        raise ResolutionError(f"fetching {url!r} failed: {type(err).__name__}") from err
