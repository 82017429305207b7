"""A slow reader slows its job down; the server's memory stays flat (a divergence from Java).

The server runs as a separate process (``rxxenon serve``) so that its memory can be measured
apart from the client's. The real server reads the job's output as fast as it comes and keeps
it all in memory (+916 MB for 200 MB of output); this one reads only as fast as the client.
"""

from __future__ import annotations

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc

from ._serve import rss_bytes, serve
from ._support import SchedulerClient

# Measures the memory of an ``rxxenon serve`` process.
pytestmark = pytest.mark.embedded_only

SIZE = 200 * 1024 * 1024


def test_slow_reader_paces_the_job_and_server_memory_stays_flat() -> None:
    with serve() as served, grpc.insecure_channel(served.address) as channel:
        stub = pb_grpc.SchedulerServiceStub(channel)
        sched = SchedulerClient(stub, stub.localScheduler(pb.Empty(), timeout=10))
        warm = sched.interactive("head", "-c", "10000000", "/dev/zero", queue_name="unlimited")
        warm.first()
        warm.read_to_end()
        before = rss_bytes(served.process.pid)

        call = sched.interactive("head", "-c", str(SIZE), "/dev/zero", queue_name="unlimited")
        job = call.first()
        received = sum(len(call.next().stdout) for _ in range(3))
        # The client now stops reading. Unthrottled, the job would write its 200 MB in well
        # under a second; paced by the client it cannot end, however long we give it.
        status = sched.wait_done(job, timeout_ms=1500)
        assert status.state == "RUNNING"
        growth = rss_bytes(served.process.pid) - before
        assert growth < 16 * 1024 * 1024, f"server grew by {growth / 1e6:.0f} MB"

        stdout, stderr, _ = call.read_to_end()
        assert received + len(stdout) == SIZE
        assert stderr == b""
        final = sched.wait_done(job)
        assert (final.state, final.exit_code) == ("DONE", 0)
        sched.cleanup()
