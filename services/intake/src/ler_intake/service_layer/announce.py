"""Telling the world about a change: outbox event, change feed row, webhook queue row.

All three are written in the caller's unit of work, so they commit (or not) with the change.
The webhook body names the application and what happened, never personal data; the ATS
fetches details through IntakeService.
"""

from __future__ import annotations

import json

from ler_intake.domain.application import Application
from ler_intake.domain.events import DomainEvent
from ler_intake.domain.model import Provider
from ler_intake.service_layer.unit_of_work import UnitOfWork

SUBMITTED = "submitted"
VERIFIED = "verified"
FLAGGED = "flagged"
OUTCOME_RECORDED = "outcome_recorded"


def webhook_body(app: Application, change: str, event: DomainEvent) -> bytes:
    """The JSON body of a webhook notification."""
    payload = {
        "type": f"application.{change}",
        "event": type(event).__name__,
        "application_id": app.application_id,
        "opportunity_id": app.opportunity_id,
        "provider_id": app.provider_id,
        "state": app.state.value,
        "match_score": app.match.score if app.match else None,
        "flags": [{"reason": f.reason.value, "credential_id": f.credential_id} for f in app.flags],
        "changed_at": app.updated_at.isoformat(),
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


async def announce(
    uow: UnitOfWork,
    provider: Provider | None,
    app: Application,
    change: str,
    event: DomainEvent,
) -> None:
    """Stage ``event``, append to the change feed and, if the provider has one, queue a webhook."""
    uow.publish(event)
    await uow.changes.add(
        app.provider_id, app.opportunity_id, app.application_id, change, app.updated_at
    )
    if provider is not None and provider.webhook_url:
        await uow.webhooks.enqueue(
            provider.provider_id,
            f"application.{change}",
            webhook_body(app, change, event),
            app.updated_at,
        )
