"""The service's HTTP listener, over TLS when a certificate is configured.

The platform's ``HttpServer`` listens in plain HTTP only; this subclass serves the same
application over HTTPS when ``LER_HTTP_TLS_CERT`` and ``LER_HTTP_TLS_KEY`` are set (did:web
resolution requires HTTPS, did:web §3.2).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

from aiohttp import web
from ler_platform.errors import ConfigurationError
from ler_platform.http_server import HttpServer


def server_ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A TLS 1.2+ server context from PEM files; a clear error when they cannot be loaded."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as err:
        raise ConfigurationError(
            f"cannot load the HTTPS certificate {cert_file!r} and its key: {type(err).__name__}"
        ) from err
    return context


class TlsCapableHttpServer(HttpServer):
    """``HttpServer`` that listens with TLS when given an SSL context."""

    def __init__(
        self,
        ready: Callable[[], bool],
        *,
        max_body_bytes: int,
        ssl_context: ssl.SSLContext | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(ready, max_body_bytes=max_body_bytes, **kwargs)
        self._ssl = ssl_context

    async def start(self, host: str, port: int) -> int:
        """Start listening (HTTPS when configured); returns the bound port."""
        if self._ssl is None:
            return await super().start(host, port)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=self._ssl)
        await site.start()
        server = site._server  # aiohttp exposes the bound sockets only here
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self.port
