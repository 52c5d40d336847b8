"""Where the local real servers are: the PostgreSQL and Kafka that ``make infra``
(``deploy/local/infra.sh up``) starts on loopback for tests, benchmarks and ``make up``.

Their coordinates come from ``LER_TEST_PG_DSN`` and ``LER_TEST_KAFKA``, else from the
``KEY=VALUE`` lines of the file the script writes (``var/infra.env`` in the repository), so
that a test or a benchmark finds them whether or not the shell sourced that file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PG_KEY = "LER_TEST_PG_DSN"
KAFKA_KEY = "LER_TEST_KAFKA"


class LocalInfraMissing(LookupError):
    """The coordinates of the local servers are not known (``make infra`` has not run)."""


@dataclass(frozen=True)
class LocalInfra:
    """PostgreSQL (a DSN without a database name) and Kafka (bootstrap servers)."""

    pg_dsn: str
    kafka: str

    def pg_url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on that server."""
        return f"{self.pg_dsn}/{database}"


def read_env_file(path: Path) -> dict[str, str]:
    """The ``KEY=VALUE`` lines of ``path`` (comments and other lines ignored; none if absent)."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.lstrip().startswith("#"):
            values.setdefault(key.strip(), value.strip())
    return values


def find_local_infra(env_file: Path) -> LocalInfra:
    """The servers' coordinates from the environment, else from ``env_file``.

    Raises ``LocalInfraMissing`` naming what is missing: a caller that needs the real servers
    fails on it (tests never skip for want of them).
    """
    values = {k: os.environ[k] for k in (PG_KEY, KAFKA_KEY) if os.environ.get(k)}
    if len(values) < 2:
        for key, value in read_env_file(env_file).items():
            values.setdefault(key, value)
    missing = [k for k in (PG_KEY, KAFKA_KEY) if not values.get(k)]
    if missing:
        raise LocalInfraMissing(
            f"the real servers' {' and '.join(missing)} are not set: run `make infra`"
            f" (deploy/local/infra.sh up), which writes {env_file}, or export them"
        )
    return LocalInfra(values[PG_KEY].rstrip("/"), values[KAFKA_KEY])
