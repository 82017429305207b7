"""Large files through a separate ``rxxenon serve``: the server's memory stays flat.

The server runs as its own process so that its memory can be measured apart from the
client's. A slow reader slows the reading of the file down instead of making the server hold
it (the real server sends a file as one message, so it holds all of it); a large upload is
written as it arrives.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc

from ._serve import rss_bytes, serve
from ._support import SchedulerClient

# Measures the memory of an ``rxxenon serve`` process.
pytestmark = pytest.mark.embedded_only

MB = 1_000_000
MIB = 1024 * 1024
SIZE = 200 * MIB


def peak_rss_bytes(pid: int) -> int:
    """The largest resident set size process ``pid`` has had (VmHWM)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def create(stub: pb_grpc.FileSystemServiceStub, location: Path) -> pb.FileSystem:
    request = pb.CreateFileSystemRequest(adaptor="file", location=str(location))
    return stub.create(request, timeout=10)


def test_slow_reader_keeps_server_memory_flat(tmp_path: Path) -> None:
    data_file = tmp_path / "big"
    block = os.urandom(MIB)
    with open(data_file, "wb") as file:
        for _ in range(SIZE // MIB):
            file.write(block)
    with serve() as served, grpc.insecure_channel(served.address) as channel:
        stub = pb_grpc.FileSystemServiceStub(channel)
        filesystem = create(stub, tmp_path)
        request = pb.PathRequest(filesystem=filesystem, path=pb.Path(path="big"))
        warm: Any = stub.readFromFile(request, timeout=30)
        next(warm)
        warm.cancel()
        before = rss_bytes(served.process.pid)

        call: Any = stub.readFromFile(request, timeout=30)
        received = sum(len(next(call).buffer) for _ in range(3))
        # The client now stops reading for 1.5 s (a wait on the server, not a sleep here).
        # Unthrottled, the server would read the whole 200 MiB in well under that.
        schedulers = pb_grpc.SchedulerServiceStub(channel)
        sched = SchedulerClient(schedulers, schedulers.localScheduler(pb.Empty(), timeout=10))
        sleeper = sched.sleeper("unlimited", 30)
        assert sched.wait_done(sleeper, timeout_ms=1500).state == "RUNNING"
        growth = rss_bytes(served.process.pid) - before
        print(f"slow reader: server grew by {growth / MB:.1f} MB")  # shown with pytest -s
        assert growth < 16 * MIB, f"server grew by {growth / MB:.0f} MB"

        rest = [message.buffer for message in call]
        assert received + sum(len(piece) for piece in rest) == SIZE
        assert rest[-1] == b""
        sched.cleanup()


def test_large_round_trip_in_bounded_memory(tmp_path: Path) -> None:
    block = os.urandom(MIB)
    sent = hashlib.sha256()

    with serve() as served, grpc.insecure_channel(served.address) as channel:
        stub = pb_grpc.FileSystemServiceStub(channel)
        filesystem = create(stub, tmp_path)

        def upload() -> Iterator[pb.WriteToFileRequest]:
            yield pb.WriteToFileRequest(filesystem=filesystem, path=pb.Path(path="round"))
            for number in range(SIZE // MIB):
                piece = block[number % 251 :] + block[: number % 251]  # no two alike
                sent.update(piece)
                yield pb.WriteToFileRequest(buffer=piece)

        started = time.perf_counter()
        stub.writeToFile(upload(), timeout=50)
        write_seconds = time.perf_counter() - started
        assert (tmp_path / "round").stat().st_size == SIZE

        received = hashlib.sha256()
        started = time.perf_counter()
        request = pb.PathRequest(filesystem=filesystem, path=pb.Path(path="round"))
        for message in stub.readFromFile(request, timeout=50):
            received.update(message.buffer)
        read_seconds = time.perf_counter() - started

        peak = peak_rss_bytes(served.process.pid)
    assert received.hexdigest() == sent.hexdigest()
    assert peak < 100 * MB, f"server peak RSS {peak / MB:.0f} MB"
    print(  # shown with pytest -s
        f"round trip {SIZE // MIB} MiB: write {SIZE / write_seconds / MB:.0f} MB/s, "
        f"read {SIZE / read_seconds / MB:.0f} MB/s, server peak RSS {peak / MB:.0f} MB"
    )
