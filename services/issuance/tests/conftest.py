"""Fixtures of the issuance service tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ler_crypto.kms import KeyEncryptionKey

# pytest runs with --import-mode=importlib: make the helper modules importable by tests
sys.path.insert(0, str(Path(__file__).resolve().parent))

from issuance_fakes import FakeStore, FakeUnitOfWork
from ler_issuance.adapters.keystore import EnvelopeKeyStore
from ler_issuance.service_layer.context import Context, PublicUrls


@pytest.fixture
def store() -> FakeStore:
    """The committed state of the fake database."""
    return FakeStore()


@pytest.fixture
def ctx(store: FakeStore) -> Context:
    """Use-case context over the fake unit of work, a real key store and a fixed base URL."""
    keys = EnvelopeKeyStore.from_kek(KeyEncryptionKey.generate("test-kek"))
    return Context(
        uow=lambda: FakeUnitOfWork(store),
        keys=keys,
        urls=PublicUrls("http://127.0.0.1:8081"),
    )
