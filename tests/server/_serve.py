"""Running ``python -m rxxenon serve`` as a child process for the tests."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.xenon_grpc._procs import stat_fields

__all__ = ["ServeProcess", "minor_faults", "rss_bytes", "serve"]

ROOT = Path(__file__).resolve().parents[2]


class ServeProcess:
    """A running ``rxxenon serve``: the process and the address it printed."""

    def __init__(self, process: subprocess.Popen[bytes], line: str) -> None:
        self.process = process
        self.line = line
        self.address = line.removeprefix("listening on ")


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            pytest.fail("rxxenon serve printed nothing in time")
    return process.stdout.readline().decode()


@contextlib.contextmanager
def serve(timeout: float = 20.0, python_path: str | None = None) -> Iterator[ServeProcess]:
    """Start ``python -m rxxenon serve --port 0`` and wait for its ``listening on`` line.

    ``python_path``: its ``PYTHONPATH`` (by default the project's root before the caller's).
    The process is killed at the end if the test did not stop it.
    """
    if python_path is None:
        python_path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": python_path}
    process = subprocess.Popen(
        [sys.executable, "-m", "rxxenon", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    try:
        line = _read_line(process, timeout)
        yield ServeProcess(process, line.rstrip("\n"))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout)
        assert process.stdout is not None
        process.stdout.close()


def minor_faults(pid: int) -> int:
    """The minor page faults of process ``pid``: mostly pages touched first since mapped."""
    fields = stat_fields(pid)
    assert fields is not None, f"process {pid} is gone"
    return int(fields[7])


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid``."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def wait_exit(process: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """Wait for ``process`` to exit (failing the test after ``timeout`` s); its status."""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if time.monotonic() > deadline:
            pytest.fail("rxxenon serve did not exit in time")
        time.sleep(0.01)  # polling interval
    return process.returncode
