"""OpenTelemetry set-up and Kafka trace propagation (DESIGN.md "Observability").

``setup_tracing`` reads the standard ``OTEL_*`` variables: with
``OTEL_EXPORTER_OTLP_ENDPOINT`` set, spans are batched to an OTLP/gRPC collector.
``install_in_memory_exporter`` is for tests.

Every provider installed here names the service (``service.name``) and its version
(``service.version``, the installed distribution's version) on its resource, and tags each
span started inside an authenticated call with ``ler.tenant.id`` (``TenantSpanProcessor``)
— an institution or verifier id, never a person's data.

Kafka hops: ``producer_span`` opens a ``"{topic} publish"`` PRODUCER span and injects its
``traceparent`` into the record headers; ``consumer_span`` extracts it and opens a
``"{topic} process"`` CONSUMER span around the handler, so the consumer continues the
producer's trace (W3C Trace Context §3.2 ``traceparent``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import metadata

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, SpanKind

from ler_platform.auth import Tenant, current_tenant

Headers = Sequence[tuple[str, bytes]]

_TRACER_NAME = "ler_platform"
# A proxy: it follows whichever provider is installed later, so caching it is safe.
_TRACER = trace.get_tracer(_TRACER_NAME)

#: Span attribute naming the authenticated tenant (our ``ler.`` vocabulary, STYLE.md).
TENANT_ATTRIBUTE = "ler.tenant.id"


TENANT_KIND_ATTRIBUTE = "ler.tenant.kind"
# A learner's wallet account id points at one person: it stays out of telemetry (DESIGN.md
# "Observability": no personal data in span attributes); only the kind is recorded.
_PERSONAL_TENANT_KINDS = frozenset({"holder", "learner"})


class TenantSpanProcessor(SpanProcessor):
    """Sets ``ler.tenant.kind`` and ``ler.tenant.id`` on every span started while a tenant is
    authenticated (``ler_platform.auth.current_tenant``): SQL, outbox and client spans of a
    call. Organisations (issuers, verifiers, providers) are named; learners are not."""

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        tenant = current_tenant.get()
        if tenant is not None:
            set_tenant_attributes(span, tenant)

    def on_end(self, span: ReadableSpan) -> None:
        """Nothing to do when a span ends."""


def set_tenant_attributes(span: trace.Span, tenant: Tenant) -> None:
    """Name ``tenant`` on ``span``: its kind always, its id only for organisations."""
    span.set_attribute(TENANT_KIND_ATTRIBUTE, tenant.kind)
    if tenant.tenant_id and tenant.kind not in _PERSONAL_TENANT_KINDS:
        span.set_attribute(TENANT_ATTRIBUTE, tenant.tenant_id)


def service_resource(service_name: str) -> Resource:
    """``service.name`` and ``service.version`` (of the distribution named like the service,
    e.g. ``ler-issuance``); ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES`` still win."""
    try:
        version = metadata.version(service_name)
    except metadata.PackageNotFoundError:
        version = "unknown"
    return Resource.create({"service.name": service_name, "service.version": version})


def sdk_tracer_provider(service_name: str) -> TracerProvider:
    """A new SDK provider naming ``service_name`` (and its version) that tags spans with the
    authenticated tenant — the one way every process here builds its provider."""
    provider = TracerProvider(resource=service_resource(service_name))
    provider.add_span_processor(TenantSpanProcessor())
    return provider


def tracer() -> trace.Tracer:
    """The tracer used by the platform's own spans."""
    return _TRACER


def setup_tracing(service_name: str) -> TracerProvider | None:
    """Install an SDK tracer provider exporting via OTLP if ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

    Returns the provider (to ``shutdown()`` — i.e. flush — at exit) or ``None`` when tracing
    is not exported (the API's no-op tracer is then used and costs next to nothing).
    """
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    if not (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return None
    existing = trace.get_tracer_provider()
    if isinstance(existing, TracerProvider):
        return existing
    # imported lazily: the exporter pulls in grpc channels we only need when exporting
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES still win, per the SDK's env handling
    provider = sdk_tracer_provider(service_name)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    global _sdk_installed
    _sdk_installed = True
    return provider


def install_in_memory_exporter() -> InMemorySpanExporter:
    """For tests: make sure an SDK provider is installed and add an in-memory exporter to it.

    The global provider can be set only once per process, so repeated calls reuse it and
    each returns a fresh exporter that sees the spans ended from then on.
    """
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        trace.set_tracer_provider(sdk_tracer_provider("test"))
        provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # pragma: no cover - set_tracer_provider refused
        raise RuntimeError("a non-SDK tracer provider is already installed")
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    global _sdk_installed
    _sdk_installed = True
    return exporter


class _HeaderSetter(Setter[list[tuple[str, bytes]]]):
    def set(self, carrier: list[tuple[str, bytes]], key: str, value: str) -> None:
        carrier[:] = [(k, v) for k, v in carrier if k != key]
        carrier.append((key, value.encode()))


class _HeaderGetter(Getter[Mapping[str, bytes]]):
    def get(self, carrier: Mapping[str, bytes], key: str) -> list[str] | None:
        value = carrier.get(key)
        return None if value is None else [value.decode("latin-1")]

    def keys(self, carrier: Mapping[str, bytes]) -> list[str]:
        return list(carrier)


_SETTER = _HeaderSetter()
_GETTER = _HeaderGetter()


_sdk_installed = False
_sdk_checked_at = -1.0


def sdk_installed() -> bool:
    """True once an SDK tracer provider is installed (spans are recorded).

    ``get_tracer_provider()`` reads the environment on every call, too slow per event;
    a provider can be installed only once, so a positive answer is final and a negative
    one is re-checked at most once a second.
    """
    global _sdk_installed, _sdk_checked_at
    if _sdk_installed:
        return True
    now = time.monotonic()
    if now - _sdk_checked_at >= 1.0:
        _sdk_checked_at = now
        _sdk_installed = isinstance(trace.get_tracer_provider(), TracerProvider)
    return _sdk_installed


def tracing_active() -> bool:
    """False when spans would be neither recorded (no SDK provider) nor continue a trace."""
    return sdk_installed() or trace.get_current_span().get_span_context().is_valid


def inject_trace_headers(headers: list[tuple[str, bytes]]) -> None:
    """Write the current context's ``traceparent``/``tracestate`` into ``headers`` in place."""
    propagate.inject(headers, setter=_SETTER)


def extract_trace_context(headers: Headers) -> otel_context.Context:
    """The context carried by ``traceparent``/``tracestate`` headers (empty when absent)."""
    return propagate.extract(dict(headers), getter=_GETTER)


def start_producer_span(
    topic: str, headers: list[tuple[str, bytes]], *, key: str | None = None
) -> Span:
    """Start a ``"{topic} publish"`` PRODUCER span (child of the current span), inject it
    into ``headers`` and return it; the caller ends it.

    It is not made the current span: attaching and detaching contexts would cost more
    than the rest of an outbox write, and nothing runs "inside" a publish.
    """
    if not tracing_active():
        return trace.INVALID_SPAN  # nothing to record and no trace to continue
    attributes: dict[str, str] = {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation.type": "publish",
    }
    if key is not None:
        attributes["messaging.kafka.message.key"] = key
    span = _TRACER.start_span(f"{topic} publish", kind=SpanKind.PRODUCER, attributes=attributes)
    propagate.inject(headers, context=trace.set_span_in_context(span), setter=_SETTER)
    return span


@contextmanager
def producer_span(
    topic: str, headers: list[tuple[str, bytes]], *, key: str | None = None
) -> Iterator[Span]:
    """A ``"{topic} publish"`` PRODUCER span whose context is injected into ``headers``."""
    span = start_producer_span(topic, headers, key=key)
    try:
        yield span
    except BaseException as err:
        span.record_exception(err)
        span.set_status(trace.Status(trace.StatusCode.ERROR, type(err).__name__))
        raise
    finally:
        span.end()


@contextmanager
def consumer_span(
    topic: str,
    headers: Headers,
    *,
    partition: int,
    offset: int,
    group_id: str,
    message_id: str | None = None,
) -> Iterator[Span]:
    """A ``"{topic} process"`` CONSUMER span, child of the context in ``headers``."""
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation.type": "process",
        "messaging.destination.partition.id": str(partition),
        "messaging.kafka.offset": offset,
        "messaging.consumer.group.name": group_id,
    }
    if message_id:
        attributes["messaging.message.id"] = message_id
    parent = extract_trace_context(headers)
    with tracer().start_as_current_span(
        f"{topic} process", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits, or ``None`` outside a recorded span."""
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None
