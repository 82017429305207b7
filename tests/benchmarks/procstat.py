"""Peak memory and thread counts of other processes, read from ``/proc/<pid>/status``."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from tests.benchmarks.clients._common import MB
from tests.xenon_grpc._procs import stat_fields

__all__ = ["Peaks", "Sampler", "cpu_seconds", "open_files_limit", "read_status"]


def read_status(pid: int) -> dict[str, str]:
    """The fields of ``/proc/<pid>/status``; empty once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as file:
            text = file.read()
    except OSError:
        return {}
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return fields


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user and system) process ``pid`` has used, all its threads; None once gone."""
    fields = stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _kib_field(status: dict[str, str], name: str) -> int | None:
    value = status.get(name)
    return int(value.split()[0]) if value else None


def open_files_limit(pid: int) -> int | None:
    """The soft ``Max open files`` limit of process ``pid`` (from ``/proc/<pid>/limits``)."""
    try:
        with open(f"/proc/{pid}/limits") as file:
            for line in file:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass
class Peaks:
    """The highest values seen for one process."""

    threads: int = 0
    hwm_kib: int = 0  # VmHWM: the kernel's own peak RSS of the process

    @property
    def rss_mb(self) -> float | None:
        return self.hwm_kib * 1024 / MB if self.hwm_kib else None

    def update(self, status: dict[str, str]) -> None:
        threads = status.get("Threads")
        if threads:
            self.threads = max(self.threads, int(threads))
        hwm = _kib_field(status, "VmHWM")
        if hwm:
            self.hwm_kib = max(self.hwm_kib, hwm)


@dataclass
class Sampler:
    """Samples the thread count and peak RSS of some processes every ``interval`` seconds.

    The kernel keeps the peak RSS itself (VmHWM), so sampling can only miss short bursts of
    threads, not of memory, as long as a last sample is taken before the process ends.
    """

    interval: float = 0.05
    peaks: dict[int, Peaks] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def watch(self, pid: int) -> Peaks:
        return self.peaks.setdefault(pid, Peaks())

    def sample(self) -> None:
        for pid, peaks in list(self.peaks.items()):
            peaks.update(read_status(pid))

    def start(self) -> Sampler:
        def run() -> None:
            while not self._stop.wait(self.interval):
                self.sample()

        self._thread = threading.Thread(target=run, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
