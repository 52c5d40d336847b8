"""Alembic environment of the issuance service (see ``ler_platform.migrations``)."""

from ler_issuance.tables import metadata
from ler_platform.migrations import run_env

run_env(metadata)
