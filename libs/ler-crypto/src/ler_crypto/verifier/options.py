"""Shared pieces of a verification run: options, purposes, the status-list fetcher protocol."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ler_crypto.contexts import ContextLoader
from ler_crypto.did import DidResolver
from ler_crypto.vc_model import Policy

#: Expected proofPurpose of a credential proof and of a presentation proof (checklist 10).
VC_PURPOSE = "assertionMethod"
VP_PURPOSE = "authentication"


class StatusListFetcher(Protocol):
    """Fetches a status list credential by URL (HTTPS, bounded, cached honouring ``ttl``).

    Return the credential as parsed JSON, or its raw bytes/text. Raise any exception for a
    retrieval failure: the verifier reports it as STATUS_RETRIEVAL_ERROR. The URL is the entry's
    ``statusListCredential`` exactly; implementations must not add query parameters that would
    reveal which credential is being checked (BSL §6.1).
    """

    async def fetch(self, url: str) -> Any:
        """Return the status list credential published at ``url``."""
        ...


@dataclass(frozen=True)
class VerifyOptions:
    """Everything a verification run needs besides the document."""

    resolver: DidResolver
    status_fetcher: StatusListFetcher | None = None
    loader: ContextLoader | None = None
    now: datetime | None = None
    clock_skew: timedelta = timedelta(seconds=60)
    trusted_issuers: Collection[str] | None = None
    policy: Policy = field(default_factory=lambda: Policy(allow_v1=True))

    def moment(self) -> datetime:
        """The verification time (``now`` or the wall clock), timezone-aware."""
        return self.now or datetime.now(UTC)


def short(text: str, limit: int = 600) -> str:
    """Bound a reason string so one huge error cannot bloat a report."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
