"""Every generated module imports, and every service's stub and servicer work over a real
in-process gRPC server (one call per RPC, in each streaming shape)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

GENERATED_ROOT = Path(__file__).resolve().parents[2] / "libs" / "ler-proto" / "src" / "ler"
CONTEXTS = ("common", "issuance", "wallet", "verification", "intake")
EXPECTED_SERVICES = {
    "ler.issuance.v1.IssuanceService",
    "ler.wallet.v1.WalletService",
    "ler.verification.v1.VerificationService",
    "ler.intake.v1.IntakeService",
}


def generated_module_names() -> list[str]:
    names = []
    for path in sorted(GENERATED_ROOT.rglob("*.py")):
        rel = path.relative_to(GENERATED_ROOT.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        names.append(".".join(parts))
    return names


def service_modules() -> list[tuple[ModuleType, ModuleType, ServiceDescriptor]]:
    """(pb2 module, pb2_grpc module, service descriptor) for every service."""
    found = []
    for name in generated_module_names():
        if not name.endswith("_pb2"):
            continue
        pb2 = importlib.import_module(name)
        for service in pb2.DESCRIPTOR.services_by_name.values():
            found.append((pb2, importlib.import_module(name + "_grpc"), service))
    return found


@pytest.mark.parametrize("module_name", generated_module_names())
def test_generated_module_imports(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__name__ == module_name


def test_every_context_has_a_v1_package() -> None:
    for context in CONTEXTS:
        package = importlib.import_module(f"ler.{context}.v1")
        assert package.__file__ is not None


def test_the_four_services_are_generated() -> None:
    assert {service.full_name for _, _, service in service_modules()} == EXPECTED_SERVICES


def _echo_method(method: MethodDescriptor, output: type[Any]) -> Callable[..., Any]:
    """A servicer method answering each call with an empty output message, in its shape."""
    if method.client_streaming and method.server_streaming:

        def bidi(self: object, requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            for _ in requests:
                yield output()

        return bidi
    if method.client_streaming:

        def client_stream(
            self: object, requests: Iterator[Any], context: grpc.ServicerContext
        ) -> Any:
            for _ in requests:
                pass
            return output()

        return client_stream
    if method.server_streaming:

        def server_stream(self: object, request: Any, context: grpc.ServicerContext) -> Any:
            yield output()

        return server_stream

    def unary(self: object, request: Any, context: grpc.ServicerContext) -> Any:
        return output()

    return unary


def _call(stub: object, method: MethodDescriptor, request: Any) -> list[Any]:
    """Call ``method`` once with ``request`` and return the responses."""
    callable_ = getattr(stub, method.name)
    argument = iter([request, request]) if method.client_streaming else request
    result = callable_(argument, timeout=10)
    return list(result) if method.server_streaming else [result]


@pytest.fixture
def server_port() -> Iterator[tuple[grpc.Server, int]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    port = server.add_insecure_port("127.0.0.1:0")
    yield server, port
    server.stop(grace=None)


@pytest.mark.parametrize("implemented", [True, False], ids=["implemented", "base-servicer"])
def test_stubs_and_servicers_round_trip_every_rpc(
    server_port: tuple[grpc.Server, int], implemented: bool
) -> None:
    server, port = server_port
    services = service_modules()
    for pb2, pb2_grpc, service in services:
        base = getattr(pb2_grpc, f"{service.name}Servicer")
        attrs = {m.name: _echo_method(m, getattr(pb2, m.output_type.name)) for m in service.methods}
        servicer = type(f"Echo{service.name}", (base,), attrs)() if implemented else base()
        getattr(pb2_grpc, f"add_{service.name}Servicer_to_server")(servicer, server)
    server.start()

    calls = 0
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        for pb2, pb2_grpc, service in services:
            stub = getattr(pb2_grpc, f"{service.name}Stub")(channel)
            for method in service.methods:
                request = getattr(pb2, method.input_type.name)()
                if implemented:
                    responses = _call(stub, method, request)
                    output = getattr(pb2, method.output_type.name)
                    expected = 2 if method.client_streaming and method.server_streaming else 1
                    assert [type(r) for r in responses] == [output] * expected, method.full_name
                else:
                    with pytest.raises(grpc.RpcError) as caught:
                        _call(stub, method, request)
                    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED, method.full_name
                calls += 1
    assert calls == sum(len(service.methods) for _, _, service in services) > 40
