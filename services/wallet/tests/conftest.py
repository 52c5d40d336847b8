"""Fixtures of the wallet service tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ler_crypto.kms import KeyEncryptionKey

# pytest runs with --import-mode=importlib: make the helper modules importable by tests
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ler_wallet.adapters.keystore import EnvelopeHolderKeys
from ler_wallet.adapters.verifier import CryptoReceiptVerifier
from ler_wallet.service_layer.context import Context, Pseudonymizer
from wallet_fakes import FakeStore, FakeUnitOfWork


@pytest.fixture
def store() -> FakeStore:
    """The committed state of the fake database."""
    return FakeStore()


@pytest.fixture
def ctx(store: FakeStore) -> Context:
    """Use cases over the fake unit of work, real keys and real (offline) verification."""
    return Context(
        uow=lambda: FakeUnitOfWork(store),
        keys=EnvelopeHolderKeys.from_kek(KeyEncryptionKey.generate("test-kek")),
        verifier=CryptoReceiptVerifier(offline=True),
        pseudonyms=Pseudonymizer(b"test-secret"),
        share_base_url="http://wallet.test",
    )
