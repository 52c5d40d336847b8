"""A service whose shutdown would never finish: a gRPC call that never returns and a
component whose stop() hangs. Run by test_shutdown.py to prove SIGTERM still ends it in time.

Prints ``READY <grpc_port>`` once the stuck call is in flight.
"""

from __future__ import annotations

import asyncio
import sys

import grpc
from google.protobuf import wrappers_pb2
from ler_platform.db import make_metadata
from ler_platform.lifecycle import run_service
from ler_platform.logging import configure_logging
from ler_platform.runtime import build_runtime
from ler_platform.settings import ServiceSettings

SV = wrappers_pb2.StringValue


class _StuckComponent:
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await asyncio.Event().wait()  # never returns


async def _never(request: SV, context: grpc.aio.ServicerContext) -> SV:
    await asyncio.Event().wait()
    return request


async def main(stop: asyncio.Event) -> None:
    settings = ServiceSettings(service_name="stuck", grpc_port=0, http_port=0)
    configure_logging(settings.log_level, service_name=settings.service_name)
    runtime = build_runtime(settings, metadata=make_metadata(), migrations=None)
    handlers = grpc.method_handlers_generic_handler(
        "test.v1.Stuck",
        {"Wait": grpc.unary_unary_rpc_method_handler(_never, SV.FromString, SV.SerializeToString)},
    )
    runtime.grpc.add_service("test.v1.Stuck", lambda s: s.add_generic_rpc_handlers((handlers,)))
    runtime.add_component(_StuckComponent())
    async with runtime.engine.begin() as conn:  # the outbox table the relay reads
        await conn.run_sync(runtime.metadata.create_all)

    async def announce_with_a_call_in_flight() -> None:
        for _ in range(600):  # bounded: at most 30 s for the server to bind
            if runtime.grpc.port is not None:
                break
            await asyncio.sleep(0.05)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{runtime.grpc.port}")
        call = channel.unary_unary(
            "/test.v1.Stuck/Wait",
            request_serializer=SV.SerializeToString,
            response_deserializer=SV.FromString,
        )(SV(value="x"))
        await asyncio.sleep(0.3)  # the call has reached the server
        print(f"READY {runtime.grpc.port}", file=sys.stderr, flush=True)
        try:
            await call
        except grpc.aio.AioRpcError:
            pass  # cancelled by the server's shutdown

    client = asyncio.create_task(announce_with_a_call_in_flight())
    try:
        await runtime.serve_until(stop)
    finally:
        client.cancel()


if __name__ == "__main__":
    raise SystemExit(run_service(main))
