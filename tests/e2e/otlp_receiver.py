"""A minimal OTLP/gRPC trace receiver for end-to-end tests.

It implements ``opentelemetry.proto.collector.trace.v1.TraceService/Export`` (the OTLP
specification's gRPC transport, "OTLP/gRPC") and keeps every span it is sent, flattened to
``ReceivedSpan`` with its resource attributes, so a test can ask "which services took part
in trace T" without a collector. It runs its own gRPC server on a loopback port, in a
thread pool (the services export from other processes; the test's own exporter from a
background thread), so it works whatever event loop the test runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

# OTLP Span.SpanKind values (opentelemetry/proto/trace/v1/trace.proto)
SPAN_KINDS = {
    trace_pb2.Span.SPAN_KIND_INTERNAL: "INTERNAL",
    trace_pb2.Span.SPAN_KIND_SERVER: "SERVER",
    trace_pb2.Span.SPAN_KIND_CLIENT: "CLIENT",
    trace_pb2.Span.SPAN_KIND_PRODUCER: "PRODUCER",
    trace_pb2.Span.SPAN_KIND_CONSUMER: "CONSUMER",
}


def any_value(value: common_pb2.AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value (arrays and maps recursively)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which)


def _attributes(pairs: Iterable[common_pb2.KeyValue]) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in pairs}


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span, with the attributes of the resource that sent it."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    links: tuple[tuple[str, str], ...] = ()  # (trace_id, span_id) of each link
    events: tuple[dict[str, Any], ...] = field(default=())

    @property
    def service(self) -> str:
        """The exporting service's ``service.name`` resource attribute."""
        return str(self.resource.get("service.name", ""))


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, sink: Callable[[list[ReceivedSpan]], None]) -> None:
        self._sink = sink

    def Export(
        self,
        request: trace_service_pb2.ExportTraceServiceRequest,
        context: grpc.ServicerContext,
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        received: list[ReceivedSpan] = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=SPAN_KINDS.get(span.kind, "UNSPECIFIED"),
                            attributes=_attributes(span.attributes),
                            resource=resource,
                            links=tuple(
                                (link.trace_id.hex(), link.span_id.hex()) for link in span.links
                            ),
                            events=tuple(
                                {"name": e.name, **_attributes(e.attributes)} for e in span.events
                            ),
                        )
                    )
        self._sink(received)
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpReceiver:
    """Collects spans exported over OTLP/gRPC to ``endpoint`` (``http://127.0.0.1:<port>``).

    Use as a context manager, or ``start()``/``stop()``.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        self._server: grpc.Server | None = None
        self.port: int | None = None

    @property
    def endpoint(self) -> str:
        """The value for ``OTEL_EXPORTER_OTLP_ENDPOINT`` (plain-text gRPC)."""
        if self.port is None:
            raise RuntimeError("the receiver is not started")
        return f"http://{self._host}:{self.port}"

    def start(self) -> OtlpReceiver:
        """Listen on a free port."""
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
            _TraceService(self._collect), server
        )
        self.port = server.add_insecure_port(f"{self._host}:0")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        """Stop listening (spans received so far stay readable)."""
        if self._server is not None:
            self._server.stop(grace=1).wait(5)
            self._server = None

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _collect(self, spans: list[ReceivedSpan]) -> None:
        with self._lock:
            self._spans.extend(spans)

    def spans(self, trace_id: str | None = None) -> list[ReceivedSpan]:
        """Every span received so far, or only those of ``trace_id`` (32 hex digits)."""
        with self._lock:
            spans = list(self._spans)
        return spans if trace_id is None else [s for s in spans if s.trace_id == trace_id]

    def wait_for(
        self,
        predicate: Callable[[list[ReceivedSpan]], bool],
        *,
        timeout: float = 30.0,
        interval: float = 0.2,
    ) -> list[ReceivedSpan]:
        """Poll until ``predicate(all spans)`` holds; returns the spans, raises on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            if predicate(spans):
                return spans
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"OTLP receiver: condition not met within {timeout:.0f} s"
                    f" ({len(spans)} spans received)"
                )
            time.sleep(interval)
