"""gRPC server bootstrap: health, reflection, error mapping, authentication, tracing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import wrappers_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from ler_platform.auth import ApiKeyAuthenticator, Tenant, hash_api_key, require_tenant
from ler_platform.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from ler_platform.grpc_server import GrpcServer, bearer_metadata, client_interceptors
from ler_platform.tracing import tracer
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from platform_helpers import poll_until

SERVICE = "test.v1.Echo"
GOOD_KEY = "k-very-secret-api-key"
SV = wrappers_pb2.StringValue


async def _echo(request: SV, context: grpc.aio.ServicerContext) -> SV:
    tenant = require_tenant()
    match request.value:
        case "notfound":
            raise NotFound(
                "credential c-1 was not found",
                reason="CREDENTIAL_NOT_FOUND",
                metadata={"credential_id": "c-1"},
            )
        case "invalid":
            raise InvalidArgument(
                "the request is invalid", violations=[FieldViolation("subject.id", "must be a DID")]
            )
        case "forbidden":
            raise PermissionDenied("tenant t-1 may not read tenant t-2's credentials")
        case "crash":
            raise RuntimeError("connection to postgresql://ler:hunter2@db failed")
    return SV(value=f"{tenant.tenant_id}:{request.value}")


async def _stream(request: SV, context: grpc.aio.ServicerContext) -> AsyncIterator[SV]:
    tenant = require_tenant()
    for i in range(3):
        if request.value == "notfound" and i == 1:
            raise NotFound("gone mid-stream")
        yield SV(value=f"{tenant.tenant_id}:{i}")


@pytest.fixture
async def server() -> AsyncIterator[GrpcServer]:
    instance = GrpcServer(
        domain="test.ler",
        authenticator=ApiKeyAuthenticator({hash_api_key(GOOD_KEY): Tenant("tenant-1")}),
    )
    handlers = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Echo": grpc.unary_unary_rpc_method_handler(_echo, SV.FromString, SV.SerializeToString),
            "Stream": grpc.unary_stream_rpc_method_handler(
                _stream, SV.FromString, SV.SerializeToString
            ),
        },
    )
    instance.add_service(SERVICE, lambda s: s.add_generic_rpc_handlers((handlers,)))
    await instance.start("127.0.0.1", 0)
    yield instance
    await instance.stop(0)


@pytest.fixture
async def channel(server: GrpcServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{server.port}", interceptors=client_interceptors()
    ) as ch:
        yield ch


def _echo_call(channel: grpc.aio.Channel) -> grpc.aio.UnaryUnaryMultiCallable:
    return channel.unary_unary(
        f"/{SERVICE}/Echo",
        request_serializer=SV.SerializeToString,
        response_deserializer=SV.FromString,
    )


def _details(err: grpc.aio.AioRpcError) -> status_pb2.Status:
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    raise AssertionError("no grpc-status-details-bin trailer")


async def test_health_follows_readiness_and_needs_no_token(
    server: GrpcServer, channel: grpc.aio.Channel
) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE):
        response = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert (
            response.status == health_pb2.HealthCheckResponse.NOT_SERVING
        )  # never SERVING by default
    await server.set_serving(True)
    for name in ("", SERVICE):
        response = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert response.status == health_pb2.HealthCheckResponse.SERVING
    await server.health.enter_graceful_shutdown()
    response = await health.Check(health_pb2.HealthCheckRequest(service=""))
    assert response.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_reflection_lists_the_services(channel: grpc.aio.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = set()
    async for response in call:
        names.update(s.name for s in response.list_services_response.service)
    assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names


async def test_authenticated_call_sees_its_tenant(channel: grpc.aio.Channel) -> None:
    response = await _echo_call(channel)(SV(value="hi"), metadata=bearer_metadata(GOOD_KEY))
    assert response.value == "tenant-1:hi"


@pytest.mark.parametrize(
    "metadata", [(), bearer_metadata("wrong-key"), (("authorization", "Basic abc"),)]
)
async def test_calls_without_a_valid_token_are_unauthenticated(
    channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _echo_call(channel)(SV(value="hi"), metadata=metadata)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    detail = error_details_pb2.ErrorInfo()
    assert _details(info.value).details[0].Unpack(detail)
    assert detail.reason == "UNAUTHENTICATED"
    assert "wrong-key" not in (info.value.details() or "")


async def test_domain_errors_map_to_rich_statuses(channel: grpc.aio.Channel) -> None:
    call = _echo_call(channel)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(SV(value="notfound"), metadata=bearer_metadata(GOOD_KEY))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert info.value.details() == "credential c-1 was not found"
    status = _details(info.value)
    assert status.code == grpc.StatusCode.NOT_FOUND.value[0]
    error_info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(error_info)
    assert (error_info.reason, error_info.domain, dict(error_info.metadata)) == (
        "CREDENTIAL_NOT_FOUND",
        "test.ler",
        {"credential_id": "c-1"},
    )

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(SV(value="invalid"), metadata=bearer_metadata(GOOD_KEY))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad = error_details_pb2.BadRequest()
    assert _details(info.value).details[1].Unpack(bad)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("subject.id", "must be a DID")
    ]

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(SV(value="forbidden"), metadata=bearer_metadata(GOOD_KEY))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_unexpected_errors_are_internal_and_leak_nothing(
    channel: grpc.aio.Channel, spans: InMemorySpanExporter
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _echo_call(channel)(SV(value="crash"), metadata=bearer_metadata(GOOD_KEY))
    assert info.value.code() == grpc.StatusCode.INTERNAL
    message = info.value.details() or ""
    assert message.startswith("internal error (trace id ")
    assert "hunter2" not in message and "postgresql" not in message
    assert not any(
        k == "grpc-status-details-bin" and b"hunter2" in v
        for k, v in info.value.trailing_metadata() or ()
    )
    server_span = next(s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER)
    assert format(server_span.context.trace_id, "032x") in message


async def test_streams_are_authenticated_and_mapped(channel: grpc.aio.Channel) -> None:
    stream = channel.unary_stream(
        f"/{SERVICE}/Stream",
        request_serializer=SV.SerializeToString,
        response_deserializer=SV.FromString,
    )
    items = [r.value async for r in stream(SV(value="x"), metadata=bearer_metadata(GOOD_KEY))]
    assert items == ["tenant-1:0", "tenant-1:1", "tenant-1:2"]
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for r in stream(SV(value="notfound"), metadata=bearer_metadata(GOOD_KEY)):
            received.append(r.value)
    assert received == ["tenant-1:0"]
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_client_and_server_spans_share_the_trace(
    channel: grpc.aio.Channel, spans: InMemorySpanExporter
) -> None:
    with tracer().start_as_current_span("caller") as caller:
        await _echo_call(channel)(SV(value="hi"), metadata=bearer_metadata(GOOD_KEY))
    finished = await poll_until(
        lambda: _finished(spans),
        lambda s: {SpanKind.CLIENT, SpanKind.SERVER} <= {x.kind for x in s},
        within=5,
        what="client and server spans",
    )
    client = next(s for s in finished if s.kind == SpanKind.CLIENT)
    server_span = next(s for s in finished if s.kind == SpanKind.SERVER)
    assert client.name == server_span.name == f"{SERVICE}/Echo"
    assert (
        client.context.trace_id
        == server_span.context.trace_id
        == caller.get_span_context().trace_id
    )
    assert server_span.parent is not None and server_span.parent.span_id == client.context.span_id
    assert (
        server_span.attributes is not None and server_span.attributes["rpc.grpc.status_code"] == 0
    )
    # the authenticated organisation is named on the SERVER span itself
    assert server_span.attributes["ler.tenant.id"] == "tenant-1"
    assert "ler.tenant.id" not in (client.attributes or {})


async def _finished(spans: InMemorySpanExporter) -> list:  # type: ignore[type-arg]
    return list(spans.get_finished_spans())
