"""The aio gRPC server every service runs: health, reflection and three interceptors.

Interceptors, outermost first:

1. ``ServerTracingInterceptor`` — a SERVER span per call, continuing the caller's trace
   from its ``traceparent`` metadata;
2. ``ErrorMappingInterceptor`` — domain errors to rich statuses, anything unexpected to a
   generic INTERNAL logged with its trace id (``ler_platform.grpc_errors``);
3. ``AuthInterceptor`` — the caller's bearer token to a ``Tenant`` in ``current_tenant``.

With a ``Metrics``, a ``MetricsInterceptor`` (``ler_platform.metrics``) goes outermost.

Health (``grpc.health.v1``) and reflection are exempt from authentication. The server
(``""``) and every registered service report SERVING only when ``set_serving(True)`` is
called by the readiness monitor (see ``ler_platform.runtime``), never by default. The
``liveness`` service is SERVING from ``start()`` until shutdown begins, whatever the
dependencies do: Kubernetes startup and liveness probes ask for it, so that a database or
Kafka outage takes pods out of rotation (readiness) without restarting them.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]
from grpc_health.v1._async import HealthServicer  # type: ignore[import-untyped]
from grpc_reflection.v1alpha import reflection  # type: ignore[import-untyped]
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ler_platform.auth import Authenticator, current_tenant
from ler_platform.errors import DomainError
from ler_platform.grpc_errors import STATUS_DETAILS_KEY, internal_status, rich_status
from ler_platform.metrics import Metrics, MetricsInterceptor
from ler_platform.tracing import current_trace_id, set_tenant_attributes, tracer

log = logging.getLogger(__name__)

HEALTH_SERVICE = "grpc.health.v1.Health"
LIVENESS_SERVICE = "liveness"
EXEMPT_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

Scope = Callable[[str, grpc.aio.ServicerContext[Any, Any]], AbstractAsyncContextManager[None]]


class _ScopeInterceptor(grpc.aio.ServerInterceptor):
    """Runs every call of every method inside ``self.scope(method, context)``."""

    def scope(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    def applies_to(self, method: str) -> bool:
        return True

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not self.applies_to(method):
            return handler
        return _rewrap(handler, method, self.scope)


def _rewrap(
    handler: grpc.RpcMethodHandler[Any, Any], method: str, scope: Scope
) -> grpc.RpcMethodHandler[Any, Any]:
    def unary_response(behavior: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async with scope(method, context):
                return await behavior(request, context)

        return wrapped

    def stream_response(behavior: Callable[..., Any]) -> Callable[..., AsyncIterator[Any]]:
        async def wrapped(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            async with scope(method, context):
                result = behavior(request, context)
                if inspect.isawaitable(result):  # handler writes with context.write()
                    await result
                    return
                async for item in result:
                    yield item

        return wrapped

    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary_response(handler.unary_unary), **kwargs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary_response(handler.stream_unary), **kwargs)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream_response(handler.unary_stream), **kwargs)
    if handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(
            stream_response(handler.stream_stream), **kwargs
        )
    return handler  # no behaviour to wrap


def _metadata(context: grpc.aio.ServicerContext[Any, Any]) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


class ServerTracingInterceptor(_ScopeInterceptor):
    """A SERVER span ``<package.Service>/<Method>`` per call (OTel RPC semantic conventions)."""

    @asynccontextmanager
    async def scope(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        service, _, name = method.lstrip("/").partition("/")
        parent = propagate.extract(_metadata(context))
        with tracer().start_as_current_span(
            method.lstrip("/"),
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            except BaseException:
                code = context.code() if hasattr(context, "code") else None
                status = code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
                span.set_attribute("rpc.grpc.status_code", status.value[0])
                if status in _SERVER_FAULTS:
                    span.set_status(Status(StatusCode.ERROR, status.name))
                raise
            span.set_attribute("rpc.grpc.status_code", 0)


# Per OTel RPC conventions, only these codes mark a SERVER span as an error.
_SERVER_FAULTS = {
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DATA_LOSS,
}


class ErrorMappingInterceptor(_ScopeInterceptor):
    """Maps ``DomainError`` to its status with details; hides unexpected errors behind INTERNAL."""

    def __init__(self, domain: str) -> None:
        self._domain = domain

    @asynccontextmanager
    async def scope(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        try:
            yield
        except grpc.aio.AbortError:
            raise  # the handler already chose its status
        except DomainError as err:
            code, status = rich_status(err, domain=self._domain)
            await context.abort(
                code,
                status.message,
                trailing_metadata=((STATUS_DETAILS_KEY, status.SerializeToString()),),
            )
        except Exception:
            trace_id = current_trace_id()
            log.exception("unexpected error in %s", method, extra={"rpc_method": method})
            code, status = internal_status(trace_id)
            await context.abort(code, status.message)


class AuthInterceptor(_ScopeInterceptor):
    """Authenticates each call's ``authorization: Bearer <token>``.

    Health checks and reflection are exempt.
    """

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    def applies_to(self, method: str) -> bool:
        return not method.startswith(EXEMPT_PREFIXES)

    @asynccontextmanager
    async def scope(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        token = _bearer_token(_metadata(context).get("authorization"))
        tenant = await self._authenticator.authenticate(token, method)
        # the SERVER span (opened by the tracing interceptor, outside this one) names it too
        set_tenant_attributes(trace.get_current_span(), tenant)
        reset = current_tenant.set(tenant)
        try:
            yield
        finally:
            with contextlib.suppress(ValueError):  # an async generator resumed elsewhere
                current_tenant.reset(reset)


def _bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class GrpcServer:
    """An aio server with health, reflection and the platform interceptors."""

    def __init__(
        self,
        *,
        domain: str,
        authenticator: Authenticator | None = None,
        max_message_bytes: int = 4 * 1024 * 1024,
        extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        metrics: Metrics | None = None,
    ) -> None:
        interceptors: list[grpc.aio.ServerInterceptor] = []
        if metrics is not None:
            interceptors.append(MetricsInterceptor(metrics))
        interceptors += [
            ServerTracingInterceptor(),
            ErrorMappingInterceptor(domain),
        ]
        if authenticator is not None:
            interceptors.append(AuthInterceptor(authenticator))
        interceptors.extend(extra_interceptors)
        self.server = grpc.aio.server(
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
            ],
        )
        self.health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._service_names: list[str] = [HEALTH_SERVICE]
        self.port: int | None = None

    def add_service(self, full_name: str, register: Callable[[grpc.aio.Server], None]) -> None:
        """Register a servicer (``register(server)``) whose health follows the server's."""
        register(self.server)
        self._service_names.append(full_name)

    async def start(self, host: str, port: int) -> int:
        """Bind and start; returns the bound port (for port 0). Health starts NOT_SERVING."""
        reflection.enable_server_reflection(
            [*self._service_names, reflection.SERVICE_NAME], self.server
        )
        self.port = self.server.add_insecure_port(f"{host}:{port}")
        if self.port == 0:
            raise OSError(f"could not bind gRPC to {host}:{port}")
        await self.set_serving(False)
        await self.server.start()
        await self.set_alive(True)
        return self.port

    async def set_alive(self, alive: bool) -> None:
        """Report the ``liveness`` service SERVING (the process works) or NOT_SERVING."""
        await self.health.set(
            LIVENESS_SERVICE,
            health_pb2.HealthCheckResponse.SERVING
            if alive
            else health_pb2.HealthCheckResponse.NOT_SERVING,
        )

    async def set_serving(self, serving: bool) -> None:
        """Report SERVING or NOT_SERVING for the server ("") and every registered service."""
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self._service_names):
            await self.health.set(name, status)

    async def stop(self, grace: float) -> None:
        """NOT_SERVING everywhere, then let in-flight calls finish for up to ``grace`` seconds."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


# --- client side ---------------------------------------------------------------


class _ClientTracing:
    async def _traced(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        service, _, name = method.lstrip("/").partition("/")
        span = tracer().start_span(
            method.lstrip("/"),
            kind=SpanKind.CLIENT,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
        )
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        for key, value in carrier.items():
            metadata[key] = value
        new_details = grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )
        try:
            call = await continuation(new_details, request)
        except BaseException:
            span.set_status(Status(StatusCode.ERROR))
            span.end()
            raise
        call.add_done_callback(lambda done: _end_client_span(span, done))
        return call


_pending_span_ends: set[asyncio.Task[None]] = set()


def _end_client_span(span: trace.Span, call: grpc.aio.Call) -> None:
    async def finish() -> None:
        try:
            code = await call.code()
        except Exception:  # cancelled calls have no code to report
            code = grpc.StatusCode.CANCELLED
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code != grpc.StatusCode.OK:
            span.set_status(Status(StatusCode.ERROR, code.name))
        span.end()

    # the done callback is synchronous but the aio call's code() is awaitable
    task = asyncio.ensure_future(finish())
    _pending_span_ends.add(task)
    task.add_done_callback(_pending_span_ends.discard)


class _UnaryUnary(_ClientTracing, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await self._traced(continuation, client_call_details, request)


class _UnaryStream(_ClientTracing, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await self._traced(continuation, client_call_details, request)


class _StreamUnary(_ClientTracing, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return await self._traced(continuation, client_call_details, request_iterator)


class _StreamStream(_ClientTracing, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return await self._traced(continuation, client_call_details, request_iterator)


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """Interceptors for ``grpc.aio.insecure_channel(..., interceptors=...)``: CLIENT spans
    that propagate ``traceparent`` to the server."""
    return [_UnaryUnary(), _UnaryStream(), _StreamUnary(), _StreamStream()]


def bearer_metadata(token: str) -> Iterable[tuple[str, str]]:
    """Call metadata carrying ``token`` as a bearer credential."""
    return (("authorization", f"Bearer {token}"),)
