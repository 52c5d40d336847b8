"""The test OTLP receiver decodes what the real OTLP/gRPC exporter sends."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind
from otlp_receiver import OtlpReceiver


def test_exported_spans_arrive_with_resource_links_and_attributes() -> None:
    with OtlpReceiver() as receiver:
        exporter = OTLPSpanExporter(endpoint=receiver.endpoint, insecure=True)
        # a private provider: the process-global one belongs to other tests
        provider = TracerProvider(
            resource=Resource.create({"service.name": "ler-probe", "service.version": "9.9"})
        )
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("probe")
        with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
            with tracer.start_as_current_span(
                "child",
                kind=SpanKind.CONSUMER,
                links=[Link(parent.get_span_context())],
                attributes={"n": 3, "tags": ["a", "b"], "ok": True},
            ):
                pass
        provider.shutdown()
        spans = receiver.wait_for(lambda s: len(s) >= 2, timeout=10)
    by_name = {s.name: s for s in spans}
    parent_span, child = by_name["parent"], by_name["child"]
    trace_id = format(parent.get_span_context().trace_id, "032x")
    assert parent_span.trace_id == child.trace_id == trace_id
    assert child.parent_span_id == parent_span.span_id and parent_span.parent_span_id == ""
    assert (parent_span.kind, child.kind) == ("SERVER", "CONSUMER")
    assert child.links == ((trace_id, parent_span.span_id),)
    assert child.attributes == {"n": 3, "tags": ["a", "b"], "ok": True}
    assert child.service == "ler-probe" and child.resource["service.version"] == "9.9"
    assert receiver.spans(trace_id) == spans
    assert receiver.spans("0" * 32) == []


def test_waiting_for_spans_that_never_come_times_out() -> None:
    with OtlpReceiver() as receiver, pytest.raises(TimeoutError, match="0 spans received"):
        receiver.wait_for(lambda s: bool(s), timeout=0.3, interval=0.05)
