"""What the benchmark ran on: hardware, software versions, the rxxenon tree, the load."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["CpuAccount", "describe_machine", "load_average"]

ROOT = Path(__file__).resolve().parents[2]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / (1 << 20), 1)
    except OSError:
        pass
    return None


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _run(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout + done.stderr).strip() if done.returncode == 0 else None


def _java() -> dict[str, Any]:
    try:
        from rxxenon.xenon_grpc import XenonGrpcError, find_jar, find_java

        java, jar = find_java(), find_jar()
    except (ImportError, XenonGrpcError) as error:
        return {"error": str(error)}
    version = _run([str(java), "-version"])
    return {
        "java": version.splitlines()[0] if version else None,
        "jar": jar.name,
    }


def _tree() -> dict[str, Any]:
    """The commit, and the files of rxxenon/ that differ from it (read-only git calls)."""
    commit = _run(["git", "rev-parse", "--short", "HEAD"])
    changed = _run(["git", "--no-optional-locks", "status", "--porcelain", "--", "rxxenon"])
    return {
        "commit": commit,
        "rxxenon_files_changed_since_commit": len(changed.splitlines()) if changed else 0,
    }


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def _busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores), from ``/proc/stat``."""
    with open("/proc/stat") as file:
        fields = [int(x) for x in file.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU seconds of this process and of its children (and theirs) that were reaped."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class CpuAccount:
    """How much CPU other processes used while the benchmark ran: a measure of noise.

    The machine's busy time minus this process's and its reaped descendants' (clients,
    servers and, through them, the jobs).
    """

    def __init__(self) -> None:
        self._busy = _busy_seconds()
        self._own = _own_seconds()

    def report(self) -> dict[str, float]:
        busy = _busy_seconds() - self._busy
        own = _own_seconds() - self._own
        return {
            "machine_busy_cpu_s": round(busy, 1),
            "benchmark_cpu_s": round(own, 1),
            "other_processes_cpu_s": round(max(busy - own, 0.0), 1),
        }


def describe_machine() -> dict[str, Any]:
    """The machine and software, as one JSON-able dict."""
    from google.protobuf.internal import api_implementation

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "grpcio": _version("grpcio"),
        "protobuf": f"{_version('protobuf')} ({api_implementation.Type()})",
        "reactivex": _version("reactivex"),
        "rxxenon": _version("rxxenon"),
        **_tree(),
        **_java(),
        "load_average_at_start": [round(x, 2) for x in load_average()],
    }
