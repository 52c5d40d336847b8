"""The worker side of ``SigningPool``: what runs inside a signing process.

Kept apart from ``signing_pool`` so that a worker imports only what signing needs (the crypto
library and the OB 3.0 checks), not the service's platform machinery. A worker holds the KEK in
its cipher (given once by the pool initializer), decrypts a key blob on first use and keeps the
key pair in its own memory only.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
from ler_crypto import dataintegrity
from ler_crypto.dataintegrity.datetimes import format_datetimestamp
from ler_crypto.errors import CryptoError
from ler_crypto.keys import KeyPair
from ler_crypto.kms import EnvelopeCipher, KeyEncryptionKey
from ler_crypto.obv3 import check_achievement_credential
from ler_crypto.vc_model import DataModelError
from ler_platform.worker_process import die_with_service

from ler_issuance.service_layer.context import Rejected, SignJob

_worker_cipher: EnvelopeCipher | None = None
_worker_keys: OrderedDict[bytes, KeyPair] = OrderedDict()
_WORKER_KEY_CACHE = 256


def init_worker(kid: str, kek: bytes, service_pid: int) -> None:
    """Pool initializer: die with the service, then keep the KEK in the worker's cipher only."""
    global _worker_cipher
    die_with_service(service_pid)
    _worker_cipher = EnvelopeCipher([KeyEncryptionKey(kid, kek)], active_kid=kid)


def _worker_key(encrypted_key: bytes) -> KeyPair:
    tag = hashlib.sha256(encrypted_key).digest()
    pair = _worker_keys.get(tag)
    if pair is None:
        if _worker_cipher is None:  # pragma: no cover - the initializer always runs first
            raise RuntimeError("signing worker has no key-encryption key")
        pair = _worker_cipher.decrypt(encrypted_key)
        _worker_keys[tag] = pair
        if len(_worker_keys) > _WORKER_KEY_CACHE:
            _worker_keys.popitem(last=False)
    return pair


def sign_chunk(
    encrypted_key: bytes, verification_method: str, jobs: Sequence[SignJob]
) -> list[bytes | Rejected]:
    """Check and sign each job; the signed credential as JSON bytes, or why it was refused.

    The chunk's proofs share one ``created``, so jobs with the same ``@context`` share one
    proof configuration, canonicalized once (``ProofConfigHashes``)."""
    key = _worker_key(encrypted_key)
    created = format_datetimestamp(datetime.now(UTC))
    config_hashes = dataintegrity.ProofConfigHashes()
    out: list[bytes | Rejected] = []
    for job in jobs:
        try:
            # a credential that a verifier would reject is never signed (OB 3.0 App. B.1)
            check_achievement_credential(job.document)
        except DataModelError as err:
            out.append(Rejected(str(err)))
            continue
        try:
            signed = dataintegrity.sign(
                job.document,
                key,
                cryptosuite=job.cryptosuite,
                verification_method=verification_method,
                created=created,
                config_hashes=config_hashes,
            )
        except CryptoError as err:
            out.append(Rejected(f"cannot be signed: {err}"))
            continue
        out.append(orjson.dumps(signed))
    return out


def ready() -> int:
    """The worker's pid once its initializer has run (held briefly, so that concurrent probes
    reach different workers)."""
    time.sleep(0.05)
    return os.getpid()
