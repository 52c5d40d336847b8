"""The worker side of ``PreparePool``: what runs inside a verification worker process.

Kept apart from ``prepare_pool`` so that a worker imports only what the offline phase needs
(``ler_crypto``), not the service's platform machinery. A worker holds no secrets: it gets
credential bytes and returns ``PreparedCredential`` values (plain data).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from datetime import datetime

from ler_crypto.vc_model import Policy
from ler_crypto.verifier import PreparedCredential, prepare_credential
from ler_platform.worker_process import die_with_service

log = logging.getLogger(__name__)

#: One job: the credential's bytes, the policy's ``allow_v1`` (the only policy knob offline)
#: and the verification time (for proofs checked offline).
Job = tuple[bytes, bool, datetime]

_WARM_UP = (
    b'{"@context": ["https://www.w3.org/ns/credentials/v2",'
    b' "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],'
    b' "type": ["VerifiableCredential", "OpenBadgeCredential"]}'
)


def init_worker(service_pid: int) -> None:
    """Pool initializer: die with the service, then load what every job needs."""
    die_with_service(service_pid)
    # the first JSON-LD check loads and compiles the contexts it meets: the common ones are
    # loaded here, before the first real job, while the pool's start-up probe waits
    prepare_credential(_WARM_UP)


_POLICIES = {allow_v1: Policy(allow_v1=allow_v1) for allow_v1 in (False, True)}


def prepare_batch(jobs: Sequence[Job]) -> list[PreparedCredential | None]:
    """The offline phase of each job, in order. ``None`` for a job whose preparation raised
    (a bug, never bad input: the offline phase reports bad input in its report), so that the
    service prepares that one again itself and the error surfaces there, as without a pool."""
    out: list[PreparedCredential | None] = []
    for data, allow_v1, now in jobs:
        try:
            out.append(prepare_credential(data, policy=_POLICIES[allow_v1], proofs_as_of=now))
        except Exception:  # one job's failure must not lose the batch's other answers
            log.exception("preparing a credential failed in a worker")
            out.append(None)
    return out


def ready() -> int:
    """The worker's pid once its initializer has run (held briefly, so that concurrent probes
    reach different workers)."""
    time.sleep(0.05)
    return os.getpid()
