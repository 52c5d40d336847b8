"""``ler ops health``: the gRPC health (grpc.health.v1) of every service."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

from ler_cli.connect import SERVICES, address_env, resolve_address
from ler_cli.errors import EXIT_INVALID, EXIT_OK

UNREACHABLE = "UNREACHABLE"


def register(subparsers: Any) -> None:
    """Add the ``ops`` command group."""
    group = subparsers.add_parser("ops", help="operators: service health")
    commands = group.add_subparsers(dest="ops_command", metavar="COMMAND", required=True)
    health = commands.add_parser(
        "health",
        help="gRPC health of every service (exit 1 unless all are SERVING)",
        description="Addresses: --<service>-addr, else $LER_<SERVICE>_ADDR, else the local "
        "stack's ports (issuance 50051, wallet 50052, verification 50053, intake 50054).",
    )
    for service in SERVICES:
        health.add_argument(
            f"--{service}-addr", dest=f"{service}_addr", help=f"default ${address_env(service)}"
        )
    health.add_argument("--timeout", type=float, default=3.0, help="seconds per service")
    health.add_argument("--json", action="store_true", help="print JSON instead of a table")
    health.set_defaults(handler=_health)


async def check(address: str, seconds: float) -> tuple[str, str]:
    """(status, detail) of the server at ``address``: SERVING, NOT_SERVING, ... or UNREACHABLE."""
    channel = grpc.aio.insecure_channel(address)
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        # the empty service name is the server's overall health (gRPC health checking protocol)
        response = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=seconds)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status), ""
    except grpc.aio.AioRpcError as err:
        code = err.code()
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return UNREACHABLE, f"{code.name}: {err.details() or 'no answer'}"
        return f"ERROR {code.name}", err.details() or ""
    finally:
        await channel.close(grace=None)


async def check_all(addresses: dict[str, str], seconds: float) -> dict[str, tuple[str, str]]:
    """Health of every service, checked concurrently."""
    results = await asyncio.gather(*(check(a, seconds) for a in addresses.values()))
    return dict(zip(addresses, results, strict=True))


def _health(args: argparse.Namespace) -> int:
    addresses = {s: resolve_address(s, getattr(args, f"{s}_addr")) for s in SERVICES}
    results = asyncio.run(check_all(addresses, args.timeout))
    if args.json:
        print(
            json.dumps(
                {
                    s: {"address": addresses[s], "status": st, "detail": d}
                    for s, (st, d) in results.items()
                },
                indent=2,
            )
        )
    else:
        for service, (status, detail) in results.items():
            line = f"{service:<13} {addresses[service]:<22} {status}"
            print(f"{line}  ({detail})" if detail else line)
    healthy = all(status == "SERVING" for status, _ in results.values())
    return EXIT_OK if healthy else EXIT_INVALID
