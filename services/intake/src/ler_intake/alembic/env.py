"""Alembic environment of the intake service (see ``ler_platform.migrations``)."""

from ler_intake.tables import metadata
from ler_platform.migrations import run_env

run_env(metadata)
