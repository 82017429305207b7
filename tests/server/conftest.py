"""Fixtures of the server tests: raw stubs to the server under test (each of the session's
servers in turn, see ``tests/servers.py``), fresh schedulers and file systems."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from tests.servers import ServerPool, ServerUnderTest

from ._files import FileSystemClient
from ._support import CALL_TIMEOUT, SchedulerClient


@pytest.fixture(scope="session")
def channel(xenon_server: ServerUnderTest, server_pool: ServerPool) -> grpc.Channel:
    """A plain (sync) gRPC channel to the server under test, with gRPC's default options."""
    return server_pool.channel(xenon_server.kind)


@pytest.fixture(scope="session")
def stub(channel: grpc.Channel) -> pb_grpc.SchedulerServiceStub:
    """The SchedulerService stub."""
    return pb_grpc.SchedulerServiceStub(channel)


@pytest.fixture
def sched(stub: pb_grpc.SchedulerServiceStub) -> Iterator[SchedulerClient]:
    """A fresh local scheduler with helper calls; its jobs are cancelled and it is closed after."""
    client = SchedulerClient(stub, stub.localScheduler(pb.Empty(), timeout=CALL_TIMEOUT))
    yield client
    client.cleanup()


@pytest.fixture
def scheduler(sched: SchedulerClient) -> pb.Scheduler:
    """The handle of a fresh local scheduler (closed after the test)."""
    return sched.scheduler


@pytest.fixture(scope="session")
def fs_stub(channel: grpc.Channel) -> pb_grpc.FileSystemServiceStub:
    """The FileSystemService stub."""
    return pb_grpc.FileSystemServiceStub(channel)


@pytest.fixture
def new_fs(fs_stub: pb_grpc.FileSystemServiceStub) -> Iterator[Callable[..., pb.FileSystem]]:
    """Create ``file`` file systems (``create`` fields as keywords); closed after the test."""
    made: list[pb.FileSystem] = []

    def make(**fields: Any) -> pb.FileSystem:
        request = pb.CreateFileSystemRequest(adaptor="file", **fields)
        made.append(fs_stub.create(request, timeout=CALL_TIMEOUT))
        return made[-1]

    yield make
    for filesystem in made:
        FileSystemClient(fs_stub, filesystem, Path("/")).close()


@pytest.fixture
def fs(
    fs_stub: pb_grpc.FileSystemServiceStub,
    new_fs: Callable[..., pb.FileSystem],
    tmp_path: Path,
    xenon_server: ServerUnderTest,
) -> FileSystemClient:
    """A ``file`` file system at the test's ``tmp_path`` (closed after the test)."""
    return FileSystemClient(
        fs_stub, new_fs(location=str(tmp_path)), tmp_path, server_pid=xenon_server.pid
    )
