"""The platform's HTTP listener, able to serve HTTPS.

``ler_platform.http_server.HttpServer`` has no TLS option yet, and the VC-API must be
served over HTTPS when a certificate is configured (issue 6; verifiers and test suites only
fetch over https). This subclass adds an ``ssl_context`` and otherwise behaves the same.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

from aiohttp import web
from ler_platform.http_server import HttpServer


def server_ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2+) from PEM files."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


class TlsCapableHttpServer(HttpServer):
    """``HttpServer`` that listens with TLS when given an ``ssl_context``."""

    def __init__(
        self, ready: Callable[[], bool], *, max_body_bytes: int, ssl_context: ssl.SSLContext | None
    ) -> None:
        super().__init__(ready, max_body_bytes=max_body_bytes)
        self._ssl = ssl_context

    @property
    def scheme(self) -> str:
        """``https`` when TLS is configured."""
        return "https" if self._ssl is not None else "http"

    async def start(self, host: str, port: int) -> int:
        """Start listening (with TLS when configured); returns the bound port."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=self._ssl)
        await site.start()
        server = site._server  # aiohttp exposes the bound sockets only here
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self.port
