"""Alembic environment of the wallet service (see ``ler_platform.migrations``)."""

from ler_platform.migrations import run_env
from ler_wallet.tables import metadata

run_env(metadata)
