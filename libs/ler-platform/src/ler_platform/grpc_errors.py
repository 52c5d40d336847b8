"""The one place where domain errors become gRPC statuses (google.rpc richer error model).

A ``DomainError`` becomes its status code with the message the error carries, plus
``grpc-status-details-bin`` holding a ``google.rpc.Status`` with an ``ErrorInfo`` (reason,
domain, metadata) and, for invalid arguments, a ``BadRequest`` with the field violations.
Anything else is an internal error: the caller gets a generic message and the trace id
to quote, the details go only to the log.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2  # type: ignore[import-untyped]

from ler_platform.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)

STATUS_DETAILS_KEY = "grpc-status-details-bin"

_CODES: tuple[tuple[type[DomainError], grpc.StatusCode], ...] = (
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
)


def status_code_for(error: DomainError) -> grpc.StatusCode:
    """The gRPC code of a domain error (a bare ``DomainError`` is a failed precondition)."""
    for cls, code in _CODES:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.FAILED_PRECONDITION


def rich_status(error: DomainError, *, domain: str) -> tuple[grpc.StatusCode, status_pb2.Status]:
    """The code and the ``google.rpc.Status`` (with details) describing ``error``."""
    code = status_code_for(error)
    status = status_pb2.Status(code=_rpc_code(code), message=error.message)
    info = any_pb2.Any()
    info.Pack(
        error_details_pb2.ErrorInfo(reason=error.reason, domain=domain, metadata=error.metadata)
    )
    status.details.append(info)
    if isinstance(error, InvalidArgument) and error.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.violations
            ]
        )
        detail = any_pb2.Any()
        detail.Pack(bad)
        status.details.append(detail)
    return code, status


def internal_status(trace_id: str | None) -> tuple[grpc.StatusCode, status_pb2.Status]:
    """A generic INTERNAL status that reveals nothing but the trace id to quote."""
    message = "internal error" + (f" (trace id {trace_id})" if trace_id else "")
    return grpc.StatusCode.INTERNAL, status_pb2.Status(code=code_pb2.INTERNAL, message=message)


def _rpc_code(code: grpc.StatusCode) -> int:
    value: tuple[int, str] = code.value
    return value[0]
