"""The learner's journey (issue 9), told against the four services through their public
interfaces only: gRPC (``ler.*`` stubs) and the issuance-requests topic.

The whole journey is one OpenTelemetry trace: a root span ``ler.journey`` around every step, the
platform's client interceptors on every channel (``traceparent`` in gRPC metadata) and a
``"{topic} publish"`` producer span on every issuance request (``traceparent`` in the Kafka
headers), so issuance, wallet, verification and intake continue it.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from ler_platform.tracing import sdk_tracer_provider, setup_tracing
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from ler_cli.journey.acts_applying import ApplyingActs
from ler_cli.journey.acts_holding import HoldingActs
from ler_cli.journey.acts_issuing import IssuingActs
from ler_cli.journey.base import DEFAULT_WAIT_SECONDS, Narrate
from ler_cli.journey.result import JourneyResult
from ler_cli.journey.stack import RealStack


class HasEndpoints(Protocol):
    """A stack: ``RealStack`` itself, or a started ``EmbeddedStack``."""

    @property
    def endpoints(self) -> RealStack:
        """Addresses, credentials and the publisher of the running services."""
        ...


def _ensure_tracer_provider() -> TracerProvider | None:
    """An SDK tracer provider, so the root span has a real trace id. Exports over OTLP when
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; otherwise ids are made and nothing is exported."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        return provider
    installed: TracerProvider | None = setup_tracing("ler-journey")
    if installed is not None:
        return installed
    trace.set_tracer_provider(sdk_tracer_provider("ler-journey"))
    provider = trace.get_tracer_provider()
    return provider if isinstance(provider, TracerProvider) else None


class _Journey(IssuingActs, HoldingActs, ApplyingActs):
    """The story, act by act."""

    async def play(self) -> None:
        await self.register_institutions()
        await self.open_wallet()
        await self.issue()
        await self.receive()
        await self.curate()
        await self.post_job()
        await self.apply()
        await self.review()
        await self.revoke()


async def run_journey(
    stack: HasEndpoints, *, narrate: Narrate | None = None, wait: float = DEFAULT_WAIT_SECONDS
) -> JourneyResult:
    """Run the learner's journey on ``stack`` (a ``RealStack`` or a started ``EmbeddedStack``).

    ``narrate`` receives one line per step as it runs (default: silent). Waits for
    asynchronous outcomes are bounded by ``wait`` seconds each. Raises ``JourneyError`` when a
    step cannot be carried out; outcomes that differ from the story's are reported in the
    result (``ok`` false), not raised.
    """
    provider = _ensure_tracer_provider()
    journey = _Journey(stack.endpoints, narrate or (lambda _line: None), wait)
    started = time.perf_counter()
    tracer = trace.get_tracer("ler_cli.journey")
    try:
        with tracer.start_as_current_span("ler.journey") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            span.set_attribute("ler.journey.run", journey.run)
            await journey.play()
    finally:
        await journey.close()
        if provider is not None:
            provider.force_flush(5_000)
    summary: dict[str, Any] = {
        "trace_id": trace_id,
        **journey.summary,
        "steps": [s.to_dict() for s in journey.steps],
        "ok": all(s.ok for s in journey.steps),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return JourneyResult(trace_id=trace_id, summary=summary, steps=journey.steps)
