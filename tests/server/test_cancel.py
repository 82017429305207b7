"""cancelJob and max_runtime (reference §2.8, §3.4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from rxxenon.server import EmbeddedServer

from ._support import SchedulerClient, poll_until, process_gone, read_pid, rpc_error

CANCELLED = "local adaptor: Process cancelled by user."
NO_SUCH_JOB = "nl.esciencecenter.xenon.schedulers.NoSuchJobException: local adaptor: "


def killed(job_id: str, message: str = CANCELLED, name: str = "") -> pb.JobStatus:
    return pb.JobStatus(
        job=pb.Job(id=job_id),
        state="KILLED",
        done=True,
        error_type=pb.JobStatus.CANCELLED,
        error_message=message,
        name=name,
    )


def test_cancel_running_job(sched: SchedulerClient, tmp_path: Path) -> None:
    job = sched.submit(
        "sh", "-c", "echo $$ > pid; exec sleep 60", working_directory=str(tmp_path), name="n"
    )
    assert sched.wait_running(job).state == "RUNNING"
    pid = read_pid(tmp_path / "pid")
    assert sched.cancel(job) == killed(job, name="n")
    assert process_gone(pid)
    with rpc_error(grpc.StatusCode.INTERNAL, f"{NO_SUCH_JOB}Job {job} does not exist!"):
        sched.status(job)


def test_cancel_pending_job(sched: SchedulerClient, tmp_path: Path) -> None:
    running = sched.sleeper("single")
    pending = sched.submit("touch", str(tmp_path / "ran"), queue_name="single")
    assert sched.status(pending).state == "PENDING"
    assert sched.cancel(pending) == killed(pending)
    with rpc_error(grpc.StatusCode.INTERNAL, f"{NO_SUCH_JOB}Job {pending} does not exist!"):
        sched.cancel(pending)
    sched.cancel(running)
    # The queue goes on with the next job, never with the cancelled one.
    sched.wait_done(sched.submit("true", queue_name="single"))
    assert not (tmp_path / "ran").exists()


def test_cancel_done_job_returns_its_status(sched: SchedulerClient) -> None:
    job = sched.submit("sh", "-c", "exit 7")
    sched.wait_done(sched.submit("true"))  # single is FIFO: job is done, unread
    status = sched.cancel(job)
    assert (status.state, status.exit_code, status.error_type) == ("DONE", 7, pb.JobStatus.NONE)
    with rpc_error(grpc.StatusCode.INTERNAL, f"{NO_SUCH_JOB}Job {job} does not exist!"):
        sched.cancel(job)


def test_cancel_kills_the_whole_process_group(sched: SchedulerClient, tmp_path: Path) -> None:
    job = sched.submit(
        "sh", "-c", "sleep 60 & echo $! > child; wait", working_directory=str(tmp_path)
    )
    child = read_pid(tmp_path / "child")
    assert sched.cancel(job) == killed(job)  # not RUNNING, and at once (Java: 2 s, RUNNING)
    poll_until(lambda: process_gone(child), what="the background child to be killed")


def test_cancel_interactive_kills_its_group_and_ends_the_stream(
    sched: SchedulerClient, tmp_path: Path
) -> None:
    call = sched.interactive(
        "sh", "-c", "sleep 60 & echo $!; wait", working_directory=str(tmp_path)
    )
    job = call.first()
    child = int(call.next().stdout)
    assert sched.cancel(job) == killed(job)
    # (Java kills only sh: the orphaned sleep keeps the stream open for its minute.)
    poll_until(lambda: process_gone(child), timeout=3, what="the background child to be killed")
    assert call.read_to_end()[:2] == (b"", b"")
    assert call.call.code() == grpc.StatusCode.OK


@pytest.fixture(scope="module")
def fast_minutes() -> Iterator[pb_grpc.SchedulerServiceStub]:
    """A server whose max_runtime minute lasts 0.2 s."""
    with (
        EmbeddedServer(_seconds_per_minute=0.2) as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        yield pb_grpc.SchedulerServiceStub(channel)


@pytest.mark.embedded_only  # a private knob of the embedded server shortens the minute
def test_max_runtime(fast_minutes: pb_grpc.SchedulerServiceStub, tmp_path: Path) -> None:
    sched = SchedulerClient(fast_minutes, fast_minutes.localScheduler(pb.Empty()))
    try:
        job = sched.submit(
            "sh",
            "-c",
            "echo $$ > pid; exec sleep 60",
            working_directory=str(tmp_path),
            max_runtime=1,
        )
        quick = sched.submit("true", max_runtime=1, queue_name="unlimited")
        status = sched.wait_done(job)
        assert status == killed(job, "local adaptor: Process timed out.")
        assert process_gone(read_pid(tmp_path / "pid"))
        assert sched.wait_done(quick).state == "DONE"
    finally:
        sched.cleanup()
