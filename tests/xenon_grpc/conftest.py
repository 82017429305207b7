"""Fixtures of the xenon-grpc tests: real Java servers, shared by the whole session.

Tests that need a server skip (with the reason) when Java or the jar is missing; set
``RXXENON_XENON_GRPC_JAR`` to a xenon-grpc jar to run them (``.ci/install-java-and-jar.sh``
fetches one). The tests of finding files and of certificates need neither and always run.
The plaintext server is the one the conformance suite runs against (``tests/servers.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import rxxenon
from rxxenon.xenon_grpc import XenonGrpcServer
from tests.servers import XENON_GRPC, ServerPool, xenon_grpc_missing

SIX_ADAPTORS = ["local", "ssh", "at", "slurm", "gridengine", "torque"]


@pytest.fixture(scope="session")
def java_and_jar() -> None:
    """Skip the test unless Java and a xenon-grpc jar are found."""
    missing = xenon_grpc_missing()
    if missing is not None:
        pytest.skip(missing)


@pytest.fixture(scope="session")
def plain_server(java_and_jar: None, server_pool: ServerPool) -> XenonGrpcServer:
    """The session's plaintext xenon-grpc server (the conformance suite's)."""
    return server_pool.xenon_grpc_server()


@pytest.fixture(scope="session")
def tls_server(java_and_jar: None) -> Iterator[XenonGrpcServer]:
    """A mutual-TLS xenon-grpc server for the session (certificates in a private dir)."""
    pytest.importorskip("cryptography", reason="TLS certificates are made with cryptography")
    with XenonGrpcServer(tls=True) as server:
        yield server


@pytest.fixture(scope="session")
def plain_xenon(plain_server: XenonGrpcServer, server_pool: ServerPool) -> rxxenon.Connection:
    """An rxxenon connection to the session's plaintext server."""
    return server_pool.connection(XENON_GRPC)
