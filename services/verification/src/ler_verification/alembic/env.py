"""Alembic environment of the verification service (see ``ler_platform.migrations``)."""

from ler_platform.migrations import run_env
from ler_verification.tables import metadata

run_env(metadata)
