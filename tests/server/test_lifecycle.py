"""EmbeddedServer: start, stop, context manager, and nothing left behind after stop."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from rxxenon._errors import NoSuchJobError
from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from rxxenon.server import EmbeddedServer
from rxxenon.server._status import rpc

from ._serve import ROOT
from ._support import SchedulerClient, poll_until, process_gone, read_pid

# The embedded server itself: its start, stop, threads and leaks.
pytestmark = pytest.mark.embedded_only


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def test_address_port_and_context_manager() -> None:
    server = EmbeddedServer()
    assert (server.host, server.port) == ("127.0.0.1", 0)
    with server as started:
        assert started is server
        assert server.port > 0
        assert server.address == f"127.0.0.1:{server.port}"
        with grpc.insecure_channel(server.address) as channel:
            stub = pb_grpc.SchedulerServiceStub(channel)
            assert list(stub.getAdaptorNames(pb.Empty(), timeout=10).name) == ["local"]
    server.stop()  # idempotent
    server.stop()


def test_stop_before_start_and_start_twice() -> None:
    server = EmbeddedServer()
    server.stop()
    server.start()
    try:
        with pytest.raises(RuntimeError, match="twice"):
            server.start()
    finally:
        server.stop()


def test_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedServer(port=port)
        with pytest.raises(OSError, match=f"127.0.0.1:{port}"):
            server.start()
        server.stop()


def test_start_and_stop_from_another_thread() -> None:
    server = EmbeddedServer()
    starter = threading.Thread(target=server.start)
    starter.start()
    starter.join(timeout=20)
    assert server.port > 0
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(timeout=20)
    assert not stopper.is_alive()


def test_stop_leaves_no_threads_descriptors_or_processes(
    stub: pb_grpc.SchedulerServiceStub, tmp_path: Path
) -> None:
    del stub  # the session's server and channel: grpc is initialised before we count
    gc.collect()
    threads, fds = _threads(), _fds()

    server = EmbeddedServer().start()
    with grpc.insecure_channel(server.address) as channel:
        sched = SchedulerClient(
            pb_grpc.SchedulerServiceStub(channel),
            pb_grpc.SchedulerServiceStub(channel).localScheduler(pb.Empty(), timeout=10),
        )
        batch = sched.submit(
            "sh", "-c", "sleep 60 & echo $! > child; wait", working_directory=str(tmp_path)
        )
        sched.sleeper("single")  # queued behind `batch`: never started
        call = sched.interactive("sh", "-c", "echo $$; exec sleep 60", queue_name="multi")
        call.first()
        interactive = int(call.next().stdout)
        # This one's first process exits at once; its background child keeps the pipes open.
        holder = sched.interactive("sh", "-c", "sleep 60 & echo $!", queue_name="multi")
        holder_job = holder.first()
        background = int(holder.next().stdout)
        assert sched.wait_done(holder_job).state == "DONE"
        child = read_pid(tmp_path / "child")
        assert sched.wait_running(batch).state == "RUNNING"
        server.stop()
        assert call.read_to_end()[:2] == (b"", b"")  # the streams ended with their jobs
        assert holder.read_to_end()[:2] == (b"", b"")
    assert process_gone(interactive)
    for pid in (child, background):
        poll_until(lambda pid=pid: process_gone(pid), what=f"process {pid} to be killed")
    call.close()
    holder.close()
    gc.collect()
    poll_until(lambda: _threads() == threads, what=f"threads {threads} (now {_threads()})")
    poll_until(lambda: _fds() == fds, what=f"descriptors {fds} (now {_fds()})")


def test_stop_ends_queued_jobs_so_their_waits_return() -> None:
    server = EmbeddedServer().start()
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = pb_grpc.SchedulerServiceStub(channel)
            sched = SchedulerClient(stub, stub.localScheduler(pb.Empty(), timeout=10))
            sched.sleeper("single")
            queued = sched.sleeper("single")  # waits behind the first, never to start
            result: list[pb.JobStatus] = []
            waiter = threading.Thread(target=lambda: result.append(sched.wait_done(queued)))
            waiter.start()
            poll_until(lambda: sched.status(queued).state == "PENDING", what="a pending job")
            server.stop(grace=30)
            waiter.join(30)
    finally:
        server.stop()
    # The wait got the job's final status; it was not cut off by the grace period.
    [status] = result
    assert (status.state, status.error_type, status.error_message) == (
        "KILLED",
        pb.JobStatus.CANCELLED,
        "local adaptor: Process killed because the server is stopping.",
    )


def test_stop_with_no_grace_cancels_calls(tmp_path: Path) -> None:
    server = EmbeddedServer().start()
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.SchedulerServiceStub(channel)
        sched = SchedulerClient(stub, stub.localScheduler(pb.Empty(), timeout=10))
        sched.sleeper("single")
        pending = sched.interactive("cat")  # waits for `single` forever
        server.stop(grace=None)
        with pytest.raises(grpc.RpcError):
            pending.next()


class _Context:
    """Just enough of a servicer context to see what a handler aborted with."""

    def __init__(self) -> None:
        self.aborted: tuple[grpc.StatusCode, str] | None = None

    async def abort(self, code: grpc.StatusCode, details: str) -> Any:
        self.aborted = (code, details)
        raise grpc.aio.AbortError()


def test_errors_become_statuses_in_one_place() -> None:
    import asyncio

    class Servicer:
        @rpc
        async def known(self, request: object, context: Any) -> None:
            raise NoSuchJobError.from_adaptor("local", "Job local-1 does not exist!")

        @rpc
        async def bug(self, request: object, context: Any) -> None:
            raise ZeroDivisionError("division by zero")

    servicer = Servicer()
    for method, expected in [
        (
            servicer.known,
            (
                grpc.StatusCode.INTERNAL,
                "nl.esciencecenter.xenon.schedulers.NoSuchJobException: local adaptor: "
                "Job local-1 does not exist!",
            ),
        ),
        (
            servicer.bug,
            (
                grpc.StatusCode.INTERNAL,
                "Internal error in the rxxenon embedded server (bug): "
                "ZeroDivisionError: division by zero",
            ),
        ),
    ]:
        context = _Context()
        with pytest.raises(grpc.aio.AbortError):
            asyncio.run(method(SimpleNamespace(), context))
        assert context.aborted == expected


def test_no_thread_per_job(sched: SchedulerClient) -> None:
    before = threading.active_count()
    jobs = [sched.sleeper("unlimited") for _ in range(30)]
    for job in jobs:
        assert sched.wait_running(job).state == "RUNNING"
    assert threading.active_count() - before < 5


def test_a_server_nobody_stopped_is_stopped_at_exit(tmp_path: Path) -> None:
    script = f"""
import grpc
from rxxenon.server import EmbeddedServer
from rxxenon._proto import xenon_pb2 as pb, xenon_pb2_grpc as pb_grpc

server = EmbeddedServer().start()
stub = pb_grpc.SchedulerServiceStub(grpc.insecure_channel(server.address))
scheduler = stub.localScheduler(pb.Empty())
description = pb.JobDescription(
    executable="sh",
    arguments=["-c", "echo $$ > pid; exec sleep 60"],
    working_directory={str(tmp_path)!r},
)
job = stub.submitBatchJob(pb.SubmitBatchJobRequest(scheduler=scheduler, description=description))
from tests.server._support import read_pid
read_pid({str(tmp_path / "pid")!r})  # the job runs; the program ends without stopping the server
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, timeout=30, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr
    poll_until(lambda: process_gone(read_pid(tmp_path / "pid")), what="the job to be killed")
