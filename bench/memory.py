"""Peak resident memory of the LER service processes while benchmarks drive them.

The kernel keeps each process's peak resident set size as ``VmHWM`` ("high water mark") in
``/proc/<pid>/status`` (proc(5)). It is gone once the process exits, so ``PeakMemoryWatcher``
samples from a background thread: every ``interval`` seconds it finds the service processes
among the descendants of a root process (by default this one — the report starts every
benchmark and the real stack as its children) and keeps, per service, the largest
``VmHWM`` seen. A service process is a Python process whose command line runs the module
``ler_<service>`` (``python -m ler_issuance``, ``-m ler_wallet`` ...).

A service may have worker processes (issuance's signing pool): a pod's memory is then the
service process plus its workers, so each sample also sums ``VmRSS`` over the service
process and its descendants, and the largest such sum is kept as the instance peak (shared
library pages are counted once per process: an over-estimate, the safe side for a limit).

Linux only (``/proc``); elsewhere the watcher records nothing and says so.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("issuance", "wallet", "verification", "intake")
_PROC = Path("/proc")
_SERVICE_MODULE = re.compile(r"^ler_(issuance|wallet|verification|intake)(?:\.__main__)?$")
_KIB = 1024


def read_status_kib(pid: int, field_name: str) -> int | None:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmHWM``, ``VmRSS``) in KiB, or ``None``
    when the process is gone or the field is absent."""
    try:
        text = (_PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{field_name}:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1])
    return None


def service_of(cmdline: Iterable[str]) -> str | None:
    """The service a process runs (``"issuance"`` for ``python -m ler_issuance ...``)."""
    args = list(cmdline)
    for i, arg in enumerate(args[:-1]):
        if arg == "-m":
            match = _SERVICE_MODULE.match(args[i + 1])
            if match:
                return match.group(1)
    return None


def _cmdline(pid: int) -> list[str]:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _parents() -> dict[int, int]:
    """pid → parent pid of every process (``/proc/<pid>/stat`` field 4)."""
    parents: dict[int, int] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name (field 2) is in parentheses and may contain spaces
        rest = stat.rpartition(")")[2].split()
        if len(rest) >= 2 and rest[1].isdigit():
            parents[int(entry.name)] = int(rest[1])
    return parents


def descendants(root: int) -> set[int]:
    """Every process below ``root`` in the process tree."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _below_a_service(pid: int, services: dict[int, str | None], parents: dict[int, int]) -> bool:
    parent = parents.get(pid)
    seen = {pid}
    while parent is not None and parent in services and parent not in seen:
        if services[parent] is not None:
            return True
        seen.add(parent)
        parent = parents.get(parent)
    return False


@dataclass
class Peak:
    """The largest ``VmHWM`` seen for one service, with the phase it was seen in."""

    service: str
    kib: int = 0
    phase: str = ""
    pids: set[int] = field(default_factory=set)
    instance_kib: int = 0  # service process + its workers, summed at one instant
    worker_pids: set[int] = field(default_factory=set)

    @property
    def mib(self) -> float:
        """The peak of one service process, in MiB."""
        return self.kib / _KIB

    @property
    def instance_mib(self) -> float:
        """The peak of one service process with its workers, in MiB."""
        return max(self.instance_kib, self.kib) / _KIB


class PeakMemoryWatcher:
    """Samples the service processes below ``root`` (default: this process); see the module
    docstring. Use as a context manager; set ``phase`` to label what is running."""

    def __init__(self, root: int | None = None, *, interval: float = 0.25) -> None:
        self._root = os.getpid() if root is None else root
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.peaks: dict[str, Peak] = {name: Peak(name) for name in SERVICES}
        self.phase = ""
        self.available = _PROC.is_dir()

    def sample(self) -> None:
        """Look once at every service process below the root."""
        if not self.available:
            return
        below = descendants(self._root)
        services = {pid: service_of(_cmdline(pid)) for pid in below}
        parents = _parents()
        for pid, service in services.items():
            if service is None or _below_a_service(pid, services, parents):
                # a worker of a service process, or one of its children caught between fork
                # and exec, while its command line is still the parent's
                continue
            hwm = read_status_kib(pid, "VmHWM")
            if hwm is None:
                continue
            workers = descendants(pid)
            total = (read_status_kib(pid, "VmRSS") or 0) + sum(
                read_status_kib(w, "VmRSS") or 0 for w in workers
            )
            with self._lock:
                peak = self.peaks[service]
                peak.pids.add(pid)
                peak.worker_pids |= workers
                if hwm > peak.kib:
                    peak.kib, peak.phase = hwm, self.phase
                peak.instance_kib = max(peak.instance_kib, total)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.sample()
            except OSError:  # a /proc entry vanished mid-read: next round
                continue

    def __enter__(self) -> PeakMemoryWatcher:
        self._thread = threading.Thread(target=self._run, name="vmhwm-watcher", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.sample()  # whatever is still running

    def snapshot(self) -> dict[str, Peak]:
        """A copy of the peaks so far."""
        with self._lock:
            return {
                k: Peak(v.service, v.kib, v.phase, set(v.pids), v.instance_kib, set(v.worker_pids))
                for k, v in self.peaks.items()
            }
