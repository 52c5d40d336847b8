"""Where the services are and how to authenticate to them, for the actor commands.

Addresses come from ``--addr`` or ``LER_<SERVICE>_ADDR``; the defaults are the gRPC ports of
``deploy/local/services.sh`` (50051..50054 for issuance, wallet, verification, intake).
Credentials (operator token, institution / learner / provider API key) come from
``LER_<SERVICE>_TOKEN`` or ``--token-file`` — never from a plain flag, so that they stay out of
shell history and ``ps`` — and are never printed: error messages name the address and the
status, not the token.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.rpc import error_details_pb2  # type: ignore[import-untyped]
from grpc_status import rpc_status  # type: ignore[import-untyped]

from ler_cli.errors import EXIT_UNUSABLE, CliError

T = TypeVar("T")

#: gRPC address of each service in the local stack (deploy/local/services.sh).
DEFAULT_ADDRESSES = {
    "issuance": "127.0.0.1:50051",
    "wallet": "127.0.0.1:50052",
    "verification": "127.0.0.1:50053",
    "intake": "127.0.0.1:50054",
}
SERVICES = tuple(DEFAULT_ADDRESSES)
#: Seconds a unary call may take before it is reported as DEADLINE_EXCEEDED.
DEFAULT_TIMEOUT = 30.0
#: Exit code of a command whose service could not be reached or refused the call.
EXIT_SERVICE = 3


def address_env(service: str) -> str:
    """Name of the environment variable holding ``service``'s gRPC address."""
    return f"LER_{service.upper()}_ADDR"


def token_env(service: str) -> str:
    """Name of the environment variable holding the bearer credential for ``service``."""
    return f"LER_{service.upper()}_TOKEN"


def add_connection_args(parser: argparse.ArgumentParser, service: str) -> None:
    """``--addr``, ``--token-file`` and ``--timeout`` for a command that calls ``service``."""
    parser.add_argument(
        "--addr",
        help=f"gRPC address host:port of the {service} service "
        f"(default ${address_env(service)} or {DEFAULT_ADDRESSES[service]})",
    )
    parser.add_argument(
        "--token-file",
        help=f"file holding the bearer credential (default ${token_env(service)})",
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per call (default 30)"
    )
    parser.set_defaults(service=service)


def resolve_address(service: str, flag: str | None = None) -> str:
    """The address to dial: the flag, else the environment, else the local default."""
    return flag or os.environ.get(address_env(service)) or DEFAULT_ADDRESSES[service]


def resolve_token(service: str, token_file: str | None = None, *, required: bool = True) -> str:
    """The bearer credential for ``service`` from ``token_file`` or the environment."""
    if token_file:
        try:
            with open(token_file, encoding="utf-8") as handle:
                token = handle.read(4096).strip()
        except OSError as err:
            raise CliError(f"cannot read {token_file}: {err.strerror or err}") from err
        if not token:
            raise CliError(f"{token_file} is empty; it should hold the {service} credential")
        return token
    token = os.environ.get(token_env(service), "").strip()
    if not token and required:
        raise CliError(
            f"no credential for the {service} service: set ${token_env(service)} "
            "or pass --token-file"
        )
    return token


@dataclass(frozen=True)
class Connection:
    """One service's address and credential; ``repr`` never shows the credential."""

    service: str
    address: str
    token: str = ""
    timeout: float = DEFAULT_TIMEOUT

    def __repr__(self) -> str:
        return f"Connection(service={self.service!r}, address={self.address!r})"

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """gRPC call metadata carrying the bearer credential (empty without one)."""
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    @classmethod
    def from_args(cls, args: argparse.Namespace, *, token_required: bool = True) -> Connection:
        """The connection a command's ``add_connection_args`` options describe."""
        service: str = args.service
        return cls(
            service,
            resolve_address(service, getattr(args, "addr", None)),
            resolve_token(service, getattr(args, "token_file", None), required=token_required),
            float(getattr(args, "timeout", DEFAULT_TIMEOUT)),
        )


def describe_rpc_error(err: grpc.RpcError, conn: Connection) -> str:
    """One line: which service at which address, the status code, message and details."""
    code = err.code() if isinstance(err, grpc.Call | grpc.aio.AioRpcError) else None
    name = code.name if code is not None else "UNKNOWN"
    details = (err.details() if hasattr(err, "details") else "") or ""
    where = f"{conn.service} service at {conn.address}"
    if code is grpc.StatusCode.UNAVAILABLE:
        return f"cannot reach the {where} (UNAVAILABLE: {details or 'no connection'})"
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"the {where} did not answer within {conn.timeout:g}s (DEADLINE_EXCEEDED)"
    extra = _status_details(err)
    return f"{where}: {name}: {details}{extra}"


def _status_details(err: grpc.RpcError) -> str:
    """`` [REASON; field: why, ...]`` from the rich status details, when present."""
    try:
        status = rpc_status.from_call(err)  # type: ignore[arg-type]
    except (ValueError, AttributeError):
        return ""
    if status is None:
        return ""
    parts: list[str] = []
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        if detail.Is(info.DESCRIPTOR) and detail.Unpack(info) and info.reason:
            parts.insert(0, info.reason)
        elif detail.Is(bad.DESCRIPTOR) and detail.Unpack(bad):
            parts.extend(f"{v.field}: {v.description}" for v in bad.field_violations)
    return f" [{'; '.join(parts)}]" if parts else ""


async def with_channel(conn: Connection, work: Callable[[grpc.aio.Channel], Awaitable[T]]) -> T:
    """Open an insecure channel to ``conn`` (loopback/local stack), run ``work``, close it.

    gRPC failures become one-line ``CliError``s naming the service and the address.
    """
    channel = grpc.aio.insecure_channel(conn.address)
    try:
        return await work(channel)
    except grpc.RpcError as err:
        raise CliError(describe_rpc_error(err, conn), EXIT_SERVICE) from err
    finally:
        await channel.close(grace=None)


def run_async(work: Awaitable[T]) -> T:
    """Run a coroutine from a synchronous command handler."""
    return asyncio.run(work)  # type: ignore[arg-type]


def to_dict(message: Message) -> dict[str, Any]:
    """A protobuf message as a JSON-ready dict (proto field names, enums by name)."""
    return MessageToDict(message, preserving_proto_field_name=True)


def make_bus(bootstrap: str) -> Any:
    """The event bus the bulk commands publish to: Kafka at ``bootstrap``, secured as the
    services are (``LER_KAFKA_SECURITY_PROTOCOL``, ``LER_KAFKA_SASL_MECHANISM``,
    ``LER_KAFKA_SASL_USERNAME``, ``LER_KAFKA_SASL_PASSWORD``, ``LER_KAFKA_SSL_CAFILE``).

    A function (not inlined) so that embedded hosts and tests can provide the platform's
    in-process bus instead.
    """
    from ler_platform.errors import ConfigurationError  # type: ignore[import-untyped]
    from ler_platform.events.kafka import KafkaBus  # type: ignore[import-untyped]
    from ler_platform.events.security import KafkaSecurity  # type: ignore[import-untyped]

    if not bootstrap:
        raise CliError(
            "no Kafka bootstrap servers: pass --kafka or set $LER_KAFKA_BOOTSTRAP_SERVERS",
            EXIT_UNUSABLE,
        )
    env = os.environ
    security = KafkaSecurity(
        protocol=env.get("LER_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
        sasl_mechanism=env.get("LER_KAFKA_SASL_MECHANISM") or None,
        sasl_username=env.get("LER_KAFKA_SASL_USERNAME") or None,
        sasl_password=env.get("LER_KAFKA_SASL_PASSWORD") or None,
        ssl_cafile=env.get("LER_KAFKA_SSL_CAFILE") or None,
    )
    try:
        return KafkaBus(bootstrap, client_id="ler-cli", security=security)
    except ConfigurationError as err:
        raise CliError(f"Kafka settings: {err}", EXIT_UNUSABLE) from err
