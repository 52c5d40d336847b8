"""House rules of the contracts that buf lint does not check (STYLE.md "Contracts").

The protos are compiled here with source info so the comments can be read: every service, RPC,
message and field is documented, and every RPC's comment says which gRPC status codes it returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_tools import protoc  # type: ignore[import-untyped]
from ler_proto.events import ALL_TOPICS

PROTO_ROOT = Path(__file__).resolve().parents[2] / "protos"
CONTEXTS = {"common", "issuance", "wallet", "verification", "intake"}
STATUS_CODES = {code.name for code in grpc.StatusCode}
# FileDescriptorProto field numbers used in SourceCodeInfo paths.
MESSAGE_TYPE, ENUM_TYPE, SERVICE = 4, 5, 6
MESSAGE_FIELD, NESTED_MESSAGE = 2, 3
SERVICE_METHOD = 2


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[descriptor_pb2.FileDescriptorProto]:
    out = tmp_path_factory.mktemp("descriptors") / "set.binpb"
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"--proto_path={PROTO_ROOT}",
            f"--proto_path={resources.files('grpc_tools') / '_proto'}",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            *protos,
        ]
    )
    assert code == 0
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return list(descriptor_set.file)


def comments(fd: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    return {
        tuple(loc.path): (loc.leading_comments + loc.trailing_comments).strip()
        for loc in fd.source_code_info.location
    }


def walk_messages(
    messages: list[descriptor_pb2.DescriptorProto], prefix: tuple[int, ...]
) -> Iterator[tuple[tuple[int, ...], descriptor_pb2.DescriptorProto]]:
    for index, message in enumerate(messages):
        path = (*prefix, index)
        if message.options.map_entry:
            continue
        yield path, message
        yield from walk_messages(list(message.nested_type), (*path, NESTED_MESSAGE))


def test_one_package_per_context_and_version(
    files: list[descriptor_pb2.FileDescriptorProto],
) -> None:
    packages = {fd.package for fd in files}
    assert packages == {f"ler.{context}.v1" for context in CONTEXTS}
    for fd in files:
        assert fd.name.startswith(fd.package.replace(".", "/") + "/"), fd.name


def test_services_live_in_their_service_file(
    files: list[descriptor_pb2.FileDescriptorProto],
) -> None:
    services = {(fd.name, s.name) for fd in files for s in fd.service}
    assert services == {
        ("ler/issuance/v1/issuance_service.proto", "IssuanceService"),
        ("ler/wallet/v1/wallet_service.proto", "WalletService"),
        ("ler/verification/v1/verification_service.proto", "VerificationService"),
        ("ler/intake/v1/intake_service.proto", "IntakeService"),
    }


def test_every_declaration_is_documented(files: list[descriptor_pb2.FileDescriptorProto]) -> None:
    undocumented = []
    for fd in files:
        docs = comments(fd)
        for path, message in walk_messages(list(fd.message_type), (MESSAGE_TYPE,)):
            if not docs.get(path):
                undocumented.append(f"{fd.name}: message {message.name}")
            for index, field in enumerate(message.field):
                if not docs.get((*path, MESSAGE_FIELD, index)):
                    undocumented.append(f"{fd.name}: field {message.name}.{field.name}")
        for index, enum in enumerate(fd.enum_type):
            if not docs.get((ENUM_TYPE, index)):
                undocumented.append(f"{fd.name}: enum {enum.name}")
        for s_index, service in enumerate(fd.service):
            if not docs.get((SERVICE, s_index)):
                undocumented.append(f"{fd.name}: service {service.name}")
    assert undocumented == []


def test_every_rpc_says_which_status_codes_it_returns(
    files: list[descriptor_pb2.FileDescriptorProto],
) -> None:
    problems = []
    for fd in files:
        docs = comments(fd)
        for s_index, service in enumerate(fd.service):
            for m_index, method in enumerate(service.method):
                doc = docs.get((SERVICE, s_index, SERVICE_METHOD, m_index), "")
                named = set(re.findall(r"\b[A-Z][A-Z_]{1,}[A-Z]\b", doc)) & (STATUS_CODES | {"OK"})
                if "Returns" not in doc or not named - {"OK"}:
                    problems.append(f"{service.name}.{method.name}: {doc[:60]!r}")
    assert problems == []


def test_every_rpc_has_its_own_request_and_response(
    files: list[descriptor_pb2.FileDescriptorProto],
) -> None:
    seen: set[str] = set()
    for fd in files:
        for service in fd.service:
            for method in service.method:
                assert method.input_type == f".{fd.package}.{method.name}Request"
                assert method.output_type == f".{fd.package}.{method.name}Response"
                assert method.input_type not in seen and method.output_type not in seen
                seen |= {method.input_type, method.output_type}


def test_times_are_timestamps_and_credentials_are_bytes(
    files: list[descriptor_pb2.FileDescriptorProto],
) -> None:
    wrong = []
    for fd in files:
        for _, message in walk_messages(list(fd.message_type), (MESSAGE_TYPE,)):
            for field in message.field:
                is_time = field.name.endswith("_at") or field.name in {
                    "since",
                    "valid_from",
                    "valid_until",
                }
                if is_time and field.type_name != ".google.protobuf.Timestamp":
                    wrong.append(f"{message.name}.{field.name} should be a Timestamp")
                carries_credential = field.name in {
                    "credential",
                    "presentation",
                    "signed_credential",
                    "content",
                }
                if carries_credential and field.type not in (
                    descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
                    descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                ):
                    wrong.append(f"{message.name}.{field.name} should be bytes")
    assert wrong == []


def test_every_root_message_of_an_events_file_is_on_a_topic(
    files: list[descriptor_pb2.FileDescriptorProto],
) -> None:
    """Messages of events.proto not used inside another message there are events: each must be
    published somewhere, or it is dead contract."""
    on_topics = {ce for topic in ALL_TOPICS for ce in topic.ce_types}
    for fd in files:
        if not fd.name.endswith("/events.proto"):
            continue
        used_inside = {
            field.type_name.lstrip(".")
            for m in fd.message_type
            for field in m.field
            if field.type_name
        }
        roots = {f"{fd.package}.{m.name}" for m in fd.message_type} - used_inside
        assert roots <= on_topics, f"{fd.name}: not on any topic: {sorted(roots - on_topics)}"
