"""ler_platform.http_errors: one HTTP status per kind of domain error."""

from __future__ import annotations

import pytest
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
from ler_platform.http_errors import http_status_for


class _MissingWidget(NotFound):
    """A service's own error: mapped by its platform base."""


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidArgument("bad"), 400),
        (Unauthenticated("who?"), 401),
        (PermissionDenied("no"), 403),
        (NotFound("gone"), 404),
        (_MissingWidget("gone"), 404),
        (AlreadyExists("twice"), 409),
        (FailedPrecondition("not now"), 409),
        (ResourceExhausted("too big"), 413),
        (DomainError("other"), 409),
    ],
)
def test_each_kind_of_domain_error_has_one_status(error: DomainError, status: int) -> None:
    assert http_status_for(error) == status
