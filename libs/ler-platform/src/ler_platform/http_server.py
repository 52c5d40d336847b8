"""The service's HTTP listener (aiohttp): liveness and readiness probes, plus service routes.

Services add their public routes (did:web documents, status lists, VC-API...) to ``app``
before ``start()``.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from ler_platform.metrics import Metrics, http_middleware


class HttpServer:
    """An aiohttp application with ``/healthz`` (alive) and ``/readyz`` (mirrors gRPC health)."""

    def __init__(
        self,
        ready: Callable[[], bool],
        *,
        max_body_bytes: int = 1024 * 1024,
        metrics: Metrics | None = None,
    ) -> None:
        self._ready = ready
        # request bodies are size-limited (DESIGN.md "Security"); aiohttp answers 413 beyond it
        self.app = web.Application(
            client_max_size=max_body_bytes,
            middlewares=[http_middleware(metrics)] if metrics is not None else [],
        )
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/readyz", self._readyz)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def _readyz(self, _request: web.Request) -> web.Response:
        if self._ready():
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready"}, status=503)

    async def start(self, host: str, port: int) -> int:
        """Start listening; returns the bound port."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server  # aiohttp exposes the bound sockets only here
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self.port

    async def stop(self) -> None:
        """Stop accepting and close open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
