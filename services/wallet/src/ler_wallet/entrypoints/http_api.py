"""HTTP: share-link resolution ``GET /share/{token}``.

Every attempt is logged (when, which verifier, what was seen) before the answer is sent;
refusals are RFC 9457 problem+json. A verifier identifies itself with the ``X-Ler-Verifier``
header (its DID or tenant id) or, from a browser, by its ``Origin``; a link with an audience
serves only that verifier.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from ler_platform.errors import DomainError, NotFound, PermissionDenied

from ler_wallet.domain.errors import ShareLinkUnavailable
from ler_wallet.service_layer import sharing
from ler_wallet.service_layer.context import Context

VERIFIER_HEADER = "X-Ler-Verifier"
_PROBLEM_BASE = "urn:ler:wallet:problem:"


def problem(status: int, kind: str, title: str, detail: str) -> web.Response:
    """An RFC 9457 problem details response."""
    return web.json_response(
        {"type": _PROBLEM_BASE + kind, "title": title, "status": status, "detail": detail},
        status=status,
        content_type="application/problem+json",
    )


class ShareLinkRoutes:
    """The share-link route bound to the use-case context."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def install(self, app: web.Application) -> None:
        """Add the routes to ``app``."""
        app.router.add_get("/share/{token}", self.resolve)

    async def resolve(self, request: web.Request) -> web.Response:
        """Serve the shared credentials exactly as held, or a problem."""
        try:
            seen = await sharing.resolve_share_link(
                self._ctx,
                request.match_info["token"],
                verifier_id=request.headers.get(VERIFIER_HEADER, "")[:200],
                address=request.remote or "",
                user_agent=request.headers.get("User-Agent", ""),
                origin=request.headers.get("Origin", "")[:200],
            )
        except ShareLinkUnavailable as err:
            return problem(410, f"share-link-{err.outcome}", "Share link unavailable", err.message)
        except NotFound as err:
            return problem(404, "share-link-not-found", "Share link not found", err.message)
        except PermissionDenied as err:
            return problem(403, "share-link-audience", "Not for this verifier", err.message)
        except DomainError as err:  # any other domain refusal, still a clear answer
            return problem(400, "share-link-refused", "Share link refused", err.message)
        body: dict[str, Any] = {
            "shareLinkId": seen.link.share_link_id,
            "label": seen.link.label,
            "holder": seen.holder_did,
            "expiresAt": seen.link.expires_at.isoformat(),
            # each credential exactly as received (a string), so signatures stay checkable
            "credentials": [
                {
                    "id": c.credential_id,
                    "mediaType": c.media_type,
                    "status": c.status.value,
                    "credential": c.signed.decode("utf-8"),
                }
                for c in seen.credentials
            ],
        }
        return web.json_response(body, headers={"Cache-Control": "no-store"})
