"""What a service's worker process (signing, verification) does first: die with its service.

Kept to the standard library: a worker imports this and its own job's code, nothing of the
platform's machinery.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_service(service_pid: int) -> None:
    """End this worker when the service process ``service_pid`` ends, however it ends
    (SIGKILL included).

    A process pool's pipes never signal a dead service to its workers (each worker holds both
    ends), and a worker may hold decrypted keys. On Linux the kernel sends SIGKILL at the
    parent's death (``PR_SET_PDEATHSIG``); everywhere, a watchdog thread checks the parent
    once a second.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watchdog alone
        pass
    if os.getppid() != service_pid:  # the service died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == service_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="service-watchdog", daemon=True).start()
