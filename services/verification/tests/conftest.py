"""Fixtures: the TLS document server, an issuer, and the service started in-process (SQLite)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib: make the helpers module importable by tests
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ler_platform.local_tls import write_loopback_certificate
from vhelpers import (
    DocumentServer,
    Issuer,
    Party,
    Running,
    settings_for,
    start_service,
    stop_service,
)


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return write_loopback_certificate(tmp_path)


@pytest.fixture
async def docs(tls_files: tuple[Path, Path]) -> AsyncIterator[DocumentServer]:
    server = DocumentServer(*tls_files)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def issuer(docs: DocumentServer) -> Issuer:
    found = Issuer(Party.new(), docs)
    found.publish_lists()
    return found


@pytest.fixture
async def service(tmp_path: Path, tls_files: tuple[Path, Path]) -> AsyncIterator[Running]:
    running = await start_service(
        settings_for(f"sqlite+aiosqlite:///{tmp_path / 'verification.db'}", tls_files[0])
    )
    try:
        yield running
    finally:
        await stop_service(running)
