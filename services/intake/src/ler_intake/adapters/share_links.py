"""Resolving a wallet share link as the provider (``GET /share/<token>``), bounded.

HTTPS only, no redirects, a total timeout and a byte limit, and no private or loopback
addresses (server-side request forgery) unless ``allow_private`` (local clusters and tests).
The wallet logs the access under the provider's id (``X-Ler-Verifier``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from urllib.parse import urlsplit

import aiohttp

from ler_intake.domain.errors import ShareLinkUnresolvable, VerificationUnavailable

VERIFIER_HEADER = "X-Ler-Verifier"


class HttpShareLinkResolver:
    """``ShareLinkResolver`` over aiohttp."""

    def __init__(self, *, timeout: float, max_bytes: int, allow_private: bool = False) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max = max_bytes
        self._allow_private = allow_private

    async def _check_host(self, host: str) -> None:
        if self._allow_private:
            return
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except OSError as err:
            raise ShareLinkUnresolvable(f"cannot resolve host {host!r}") from err
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global:
                raise ShareLinkUnresolvable(f"host {host!r} is not a public address")

    async def resolve(self, url: str, verifier_id: str) -> list[str]:
        """The credentials' signed text, in the link's order."""
        parts = urlsplit(url)
        if parts.scheme != "https" and not (self._allow_private and parts.scheme == "http"):
            raise ShareLinkUnresolvable("the URL is not https")
        await self._check_host(parts.hostname or "")
        try:
            async with aiohttp.ClientSession(timeout=self._timeout) as session:
                async with session.get(
                    url, headers={VERIFIER_HEADER: verifier_id}, allow_redirects=False
                ) as resp:
                    body = await resp.content.read(self._max + 1)
                    status = resp.status
        except (aiohttp.ClientError, TimeoutError) as err:
            raise VerificationUnavailable(
                f"the wallet could not be reached: {type(err).__name__}"
            ) from err
        if len(body) > self._max:
            raise ShareLinkUnresolvable(f"the answer exceeds {self._max} bytes")
        if status != 200:
            raise ShareLinkUnresolvable(f"the wallet answered {status}{_problem(body)}")
        try:
            doc = json.loads(body)
            return [str(c["credential"]) for c in doc["credentials"]]
        except (ValueError, KeyError, TypeError) as err:
            raise ShareLinkUnresolvable("the wallet's answer is not a share-link document") from err


def _problem(body: bytes) -> str:
    try:
        detail = json.loads(body).get("detail", "")
    except (ValueError, AttributeError):
        return ""
    return f" ({str(detail)[:200]})" if detail else ""
