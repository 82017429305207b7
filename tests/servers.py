"""The servers the conformance suite runs against: the embedded one and xenon-grpc 3.0.1.

Tests that state Xenon behaviour take the ``xenon_server`` fixture (directly, or through
``xenon``, ``stub``, ``fs_stub``, ...). ``tests/conftest.py`` parametrises it with the ids
``embedded`` and ``xenon-grpc``, and tests of the ``xenon`` connection also with
``in-process`` (``rxxenon.connect()``'s own embedded server, called without gRPC in between);
``xenon-grpc`` is skipped, with the reason, when Java or the jar is missing. Each server is
started once per session, the first time a test needs it, and stopped at the end of the
session (the Java one with every local job it started).

Tests about the embedded server itself (its lifecycle, ``rxxenon serve``, memory
measurements) or about the client's own machinery (threads, the event loop) are marked
``embedded_only``: they run once, unparametrised, against the embedded server.
"""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

import rxxenon
from rxxenon.server import EmbeddedServer
from rxxenon.xenon_grpc import (
    JavaNotFoundError,
    XenonGrpcNotFoundError,
    XenonGrpcServer,
    find_jar,
    find_java,
)

__all__ = [
    "EMBEDDED",
    "IN_PROCESS",
    "SERVERS",
    "XENON_GRPC",
    "ServerPool",
    "ServerUnderTest",
    "server_params",
    "xenon_grpc_missing",
]

EMBEDDED = "embedded"
#: The embedded server as ``rxxenon.connect()`` starts it: on the connection's own loop,
#: called through the in-process channel. Only tests of the ``xenon`` connection run on it
#: (raw gRPC stubs would reach its loopback port, the same server as ``embedded``).
IN_PROCESS = "in-process"
XENON_GRPC = "xenon-grpc"
#: The ids of the servers, as they appear in test ids (``test_x[xenon-grpc]``).
SERVERS = (EMBEDDED, IN_PROCESS, XENON_GRPC)


@functools.cache
def xenon_grpc_missing() -> str | None:
    """Why the xenon-grpc server cannot run here (no Java, no jar), or None if it can."""
    try:
        find_java()
        find_jar()
    except (JavaNotFoundError, XenonGrpcNotFoundError) as error:
        return f"needs Java and the xenon-grpc jar: {error}"
    return None


def server_params(in_process: bool = False) -> list[Any]:
    """The parameters of the ``xenon_server`` fixture: the servers (``in-process`` too if
    asked), xenon-grpc skipped (with the reason) when it cannot run."""
    missing = xenon_grpc_missing()
    marks = () if missing is None else (pytest.mark.skip(reason=missing),)
    return [
        pytest.param(EMBEDDED, id=EMBEDDED),
        *([pytest.param(IN_PROCESS, id=IN_PROCESS)] if in_process else []),
        pytest.param(XENON_GRPC, id=XENON_GRPC, marks=marks),
    ]


@dataclass(frozen=True)
class ServerUnderTest:
    """A running server of the session, as the tests see it.

    Attributes:
        kind: ``embedded``, ``in-process`` or ``xenon-grpc``.
        address: ``host:port``, plaintext.
        pid: the process that serves (this one for the in-process embedded server): where
            its open files can be inspected.
    """

    kind: str
    address: str
    pid: int

    @property
    def embedded(self) -> bool:
        """Whether this is the embedded server (reached over gRPC or in process)."""
        return self.kind in (EMBEDDED, IN_PROCESS)

    def __str__(self) -> str:
        return f"{self.kind} at {self.address}"


class ServerPool:
    """The session's servers, their raw gRPC channels and rxxenon connections, made when
    first asked for and closed together at the end of the session."""

    def __init__(self) -> None:
        self._servers: dict[str, ServerUnderTest] = {}
        self._java: XenonGrpcServer | None = None
        self._channels: dict[str, grpc.Channel] = {}
        self._connections: dict[str, rxxenon.Connection] = {}
        self._stack = contextlib.ExitStack()

    def server(self, kind: str) -> ServerUnderTest:
        """The server ``kind``, started on first use."""
        if kind not in self._servers:
            if kind == EMBEDDED:
                embedded = self._stack.enter_context(EmbeddedServer())
                self._servers[kind] = ServerUnderTest(kind, embedded.address, os.getpid())
            elif kind == IN_PROCESS:
                connection = self._stack.enter_context(rxxenon.connect())
                assert connection.server is not None
                self._connections[kind] = connection
                self._servers[kind] = ServerUnderTest(kind, connection.server.address, os.getpid())
            elif kind == XENON_GRPC:
                missing = xenon_grpc_missing()
                if missing is not None:
                    pytest.skip(missing)
                java = self._stack.enter_context(XenonGrpcServer())
                assert java.pid is not None
                self._java = java
                self._servers[kind] = ServerUnderTest(kind, java.address, java.pid)
            else:
                raise ValueError(f"unknown server {kind!r}; the servers are {SERVERS}")
        return self._servers[kind]

    def xenon_grpc_server(self) -> XenonGrpcServer:
        """The xenon-grpc server itself (started on first use)."""
        self.server(XENON_GRPC)
        assert self._java is not None
        return self._java

    def channel(self, kind: str) -> grpc.Channel:
        """A plain (sync) gRPC channel to the server, with gRPC's default options (a 4 MiB
        receive limit, as PyXenon's)."""
        if kind not in self._channels:
            channel = grpc.insecure_channel(self.server(kind).address)
            self._channels[kind] = self._stack.enter_context(channel)
        return self._channels[kind]

    def connection(self, kind: str) -> rxxenon.Connection:
        """An rxxenon connection to the server (for ``in-process``: the one that started it)."""
        self.server(kind)
        if kind not in self._connections:
            connection = rxxenon.connect(self.server(kind).address)
            self._connections[kind] = self._stack.enter_context(connection)
        return self._connections[kind]

    def close(self) -> None:
        """Close the connections and channels, then stop the servers (in reverse order)."""
        self._stack.close()
        self._servers.clear()
        self._java = None
        self._channels.clear()
        self._connections.clear()
