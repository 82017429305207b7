"""The servers a benchmark runs against, each as a process of its own, fresh per scenario.

* ``embedded``: ``python -m rxxenon serve --port 0`` (rxxenon's server), stopped with
  SIGTERM (it kills its jobs), then SIGKILL to its process group.
* ``java``: xenon-grpc 3.0.1 through :class:`rxxenon.xenon_grpc.XenonGrpcServer`, plaintext
  (loopback only is used), stopped with its process group.
* ``in-process``: no server process: the client's ``rxxenon.connect()`` starts the embedded
  server in its own process (its address is ``""``).
* ``none``: no server (the ``pipes`` client).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import Protocol

__all__ = ["SERVER_KINDS", "Server", "ServerUnavailable", "start_server"]

ROOT = Path(__file__).resolve().parents[2]

SERVER_KINDS = ("embedded", "in-process", "java", "none")

#: How long a server may take to say it listens.
START_TIMEOUT = 60.0


class ServerUnavailable(Exception):
    """The server cannot be started here (no Java, no jar); the message says why."""


class Server(Protocol):
    """A running server: where it listens, its process id, and how to stop it."""

    kind: str
    address: str
    pid: int | None

    def stop(self) -> None: ...


class NoServer:
    """No server process (``none``, ``in-process``)."""

    address = ""
    pid: int | None = None

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def stop(self) -> None:
        pass


class EmbeddedServer:
    """``python -m rxxenon serve --port 0`` in a session of its own."""

    kind = "embedded"

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "rxxenon", "serve", "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.pid: int | None = self._process.pid
        self.output: deque[str] = deque(maxlen=50)
        ready = threading.Event()
        self.address = ""

        def read() -> None:
            assert self._process.stdout is not None
            for line in self._process.stdout:
                self.output.append(line.rstrip())
                if line.startswith("listening on ") and not ready.is_set():
                    self.address = line.split()[-1]
                    ready.set()
            ready.set()

        threading.Thread(target=read, name="embedded-server-output", daemon=True).start()
        if not ready.wait(START_TIMEOUT) or not self.address:
            self.stop()
            raise RuntimeError("the embedded server did not start: " + " | ".join(self.output))

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()


class JavaServer:
    """xenon-grpc (Java) without TLS; it listens on every interface, clients use loopback."""

    kind = "java"

    def __init__(self) -> None:
        # XenonGrpcServer warns about plaintext on every start; the benchmark knows.
        logging.getLogger("rxxenon.xenon_grpc").setLevel(logging.ERROR)
        try:
            from rxxenon.xenon_grpc import XenonGrpcError, XenonGrpcServer
        except ImportError as error:  # pragma: no cover - rxxenon is importable here
            raise ServerUnavailable(str(error)) from error
        try:
            self._server = XenonGrpcServer(tls=False).start()
        except XenonGrpcError as error:
            raise ServerUnavailable(str(error)) from error
        self.address = self._server.address
        self.pid: int | None = self._server.pid

    def stop(self) -> None:
        self._server.stop()


def start_server(kind: str) -> Server:
    """Start a fresh server of ``kind`` (one of :data:`SERVER_KINDS`)."""
    if kind == "embedded":
        return EmbeddedServer()
    if kind == "java":
        return JavaServer()
    if kind in ("none", "in-process"):
        return NoServer(kind)
    raise ValueError(f"unknown server kind {kind!r}")
