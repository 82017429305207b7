"""submitInteractiveJob (reference §3)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc

from ._support import InteractiveCall, SchedulerClient, poll_until, rpc_error

PYTHON = sys.executable
OK = grpc.StatusCode.OK
XENON = "nl.esciencecenter.xenon."
INVALID_JOB = f"{XENON}schedulers.InvalidJobDescriptionException: local adaptor: "
FAILED_TO_START = f"{XENON}XenonException: local adaptor: Interactive job failed to start!"

UPPER_CASER = """
import sys
sys.stderr.write("started\\n"); sys.stderr.flush()
for line in sys.stdin:
    sys.stdout.write(line.upper()); sys.stdout.flush()
sys.stderr.write("eof\\n"); sys.stderr.flush()
sys.exit(5)
"""


def read_until(
    call: InteractiveCall, done: Callable[[pb.SubmitInteractiveJobResponse], bool]
) -> list[pb.SubmitInteractiveJobResponse]:
    """Read responses up to and including the first for which ``done`` holds."""
    responses = []
    while True:
        responses.append(call.next())
        if done(responses[-1]):
            return responses


def test_message_sequence(sched: SchedulerClient) -> None:
    call = sched.interactive(PYTHON, "-c", UPPER_CASER, name="ix")
    job = call.first()
    assert job == "local-0"
    assert read_until(call, lambda r: bool(r.stderr))[-1].stderr == b"started\n"
    for line in (b"hello\n", b"again\n", b"x" * 5000 + b"\n"):
        call.send(line)
        echoed = b"".join(r.stdout for r in read_until(call, lambda r: r.stdout.endswith(b"\n")))
        assert echoed == line.upper()
    call.send(b"partial-no-newline")
    call.send(b" rest\n")
    assert call.next().stdout == b"PARTIAL-NO-NEWLINE REST\n"
    call.close_stdin()
    rest = call.read_to_end()
    assert rest[:2] == (b"", b"eof\n")
    assert call.call.code() == OK
    for response in rest[2]:
        assert response.job.id == job
        assert (response.stdout == b"") != (response.stderr == b""), response
    # The stream ends at end of file on the pipes, which races with the reaping of the
    # process: poll (a RUNNING status is not a final read, so nothing is forgotten).
    status = poll_until(lambda: (s := sched.status(job)).done and s, what=f"{job} done")
    assert (status.state, status.exit_code, status.name) == ("DONE", 5, "ix")
    with rpc_error(
        grpc.StatusCode.INTERNAL,
        f"{XENON}schedulers.NoSuchJobException: local adaptor: Job {job} does not exist!",
    ):
        sched.status(job)


def test_every_message_repeats_the_id_and_carries_one_stream(sched: SchedulerClient) -> None:
    code = "import sys\nfor i in range(50):\n  print(i, flush=True); print(i, file=sys.stderr)"
    call = sched.interactive(PYTHON, "-c", code)
    job = call.first()
    stdout, stderr, responses = call.read_to_end()
    assert stdout == stderr == b"".join(b"%d\n" % i for i in range(50))
    for response in responses:
        assert response.job.id == job
        assert (response.stdout == b"") != (response.stderr == b""), response


def test_ping_pong(sched: SchedulerClient) -> None:
    call = sched.interactive("cat", queue_name="unlimited")
    call.first()
    for i in range(100):
        call.send(b"%d\n" % i)
        assert call.next().stdout == b"%d\n" % i
    call.close_stdin()
    assert call.read_to_end()[:2] == (b"", b"")
    assert call.call.code() == OK


def test_first_request_stdin_is_forwarded(sched: SchedulerClient) -> None:
    call = sched.interactive("cat", stdin=b"first\n")
    call.first()
    assert call.next().stdout == b"first\n"
    call.close_stdin()
    assert call.read_to_end()[:2] == (b"", b"")


def test_half_close_closes_stdin(sched: SchedulerClient) -> None:
    call = sched.interactive("sh", "-c", "cat; echo closed >&2")
    call.first()
    call.send(b"data")
    call.close_stdin()
    stdout, stderr, _ = call.read_to_end()
    assert (stdout, stderr) == (b"data", b"closed\n")
    assert call.call.code() == OK


def test_large_stdin(sched: SchedulerClient) -> None:
    call = sched.interactive("wc", "-c")
    call.first()
    for _ in range(5):
        call.send(b"x" * 1_000_000)
    call.send(b"")  # an empty stdin request is harmless
    call.close_stdin()
    assert call.read_to_end()[0].split() == [b"5000000"]


def test_stream_ends_when_the_job_ends_without_half_close(sched: SchedulerClient) -> None:
    call = sched.interactive("sh", "-c", "echo out; echo err >&2; exit 2")
    job = call.first()
    stdout, stderr, _ = call.read_to_end()
    assert (stdout, stderr) == (b"out\n", b"err\n")
    assert call.call.code() == OK
    call.send(b"too late\n")  # dropped; the call is over
    assert sched.wait_done(job).exit_code == 2


def test_later_requests_only_carry_stdin(sched: SchedulerClient) -> None:
    call = sched.interactive("cat")
    job = call.first()
    call.send(b"again\n", scheduler=sched.scheduler, description=pb.JobDescription(executable="ls"))
    assert call.next().stdout == b"again\n"
    assert sched.jobs() == [job]
    call.close_stdin()
    call.read_to_end()


def test_environment_directory_arguments(sched: SchedulerClient, tmp_path: Path) -> None:
    call = sched.interactive(
        "sh",
        "-c",
        'pwd; echo "$A" "$1"',
        "sh",
        "arg",
        working_directory=str(tmp_path),
        environment={"A": "b"},
    )
    call.first()
    assert call.read_to_end()[0] == f"{tmp_path}\nb arg\n".encode()


def test_large_interleaved_output_is_complete_and_in_order(sched: SchedulerClient) -> None:
    lines = 120_000  # 9 bytes each: 1.08 MB per stream, written alternately
    code = (
        "import sys\n"
        f"for i in range({lines}):\n"
        "    sys.stdout.write('o%07d\\n' % i)\n"
        "    sys.stderr.write('e%07d\\n' % i)\n"
    )
    call = sched.interactive(PYTHON, "-c", code, queue_name="unlimited")
    call.first()
    stdout, stderr, _ = call.read_to_end()
    assert stdout == b"".join(b"o%07d\n" % i for i in range(lines))
    assert stderr == b"".join(b"e%07d\n" % i for i in range(lines))
    big = sched.interactive(
        "sh", "-c", "head -c 1000000 /dev/zero; head -c 1000000 /dev/zero | tr '\\0' e >&2"
    )
    big.first()
    stdout, stderr, _ = big.read_to_end()
    assert (stdout, stderr) == (b"\0" * 1_000_000, b"e" * 1_000_000)


def test_output_comes_in_pieces_larger_than_1_kib(sched: SchedulerClient) -> None:
    call = sched.interactive("head", "-c", "4000000", "/dev/zero")
    call.first()
    stdout, _, responses = call.read_to_end()
    assert len(stdout) == 4_000_000
    assert max(len(r.stdout) for r in responses) > 1024
    assert len(responses) < 4_000_000 // 1024


PACED_WRITER = """
import sys
chunk, out = b"z" * 65536, sys.stdout.buffer
with open(sys.argv[1], "w") as progress:
    for written in range(1, 257):  # 16 MiB
        out.write(chunk)
        out.flush()
        progress.seek(0)
        progress.write("%8d" % written)
        progress.flush()
"""


def test_a_client_that_stops_reading_pauses_the_job(sched: SchedulerClient, tmp_path: Path) -> None:
    # Backpressure: while nobody reads, the job can write only what the pipes and gRPC's
    # windows hold. (xenon-grpc reads all output into memory: the job writes everything.)
    progress = tmp_path / "progress"
    call = sched.interactive(PYTHON, "-c", PACED_WRITER, str(progress), queue_name="unlimited")
    job = call.first()
    received = len(call.next().stdout)

    def chunks_written() -> int:
        text = progress.read_text() if progress.exists() else ""
        return int(text) if text.strip() else 0

    # The client reads nothing until the job has written nothing more for 1 s.
    last, since = chunks_written(), time.monotonic()
    while time.monotonic() - since < 1.0:
        time.sleep(0.01)  # polling interval
        if (now := chunks_written()) != last:
            last, since = now, time.monotonic()
    assert last < 256, "the job wrote all of its 16 MiB while nobody read"
    stdout, _, _ = call.read_to_end()
    assert received + len(stdout) == 256 * 65536
    status = sched.wait_done(job)
    assert (status.state, status.exit_code) == ("DONE", 0)
    assert chunks_written() == 256


def test_queued_behind_a_batch_job(sched: SchedulerClient) -> None:
    batch = sched.sleeper("single")
    assert sched.wait_running(batch).state == "RUNNING"
    call = sched.interactive("echo", "hi")
    events: list[tuple[str, Any]] = []
    reader = threading.Thread(target=lambda: events.append(("first", call.next())))
    reader.start()
    try:
        poll_until(lambda: sched.jobs("single") == [batch, "local-1"], what="the queued job")
        assert sched.status("local-1").state == "PENDING"
        assert not events  # no message at all while it waits, not even the id
        # Noted before the call: its reply races with the queued job's first message.
        events.append(("cancel", None))
        assert sched.cancel(batch).state == "KILLED"
        reader.join(timeout=10)
    finally:
        call.close_stdin()
        reader.join(timeout=10)
    assert [e[0] for e in events] == ["cancel", "first"]
    first = events[1][1]
    assert (first.job.id, first.stdout, first.stderr) == ("local-1", b"", b"")
    assert call.read_to_end()[0] == b"hi\n"


def test_interactive_jobs_queue_behind_each_other(sched: SchedulerClient) -> None:
    first = sched.interactive("cat")
    assert first.first() == "local-0"
    second = sched.interactive("echo", "second")
    poll_until(lambda: sched.jobs("single") == ["local-0", "local-1"], what="the second job")
    assert sched.status("local-1").state == "PENDING"
    unlimited = sched.interactive("echo", "third", queue_name="unlimited")
    assert unlimited.first() == "local-2"  # other queues are not blocked
    first.close_stdin()
    first.read_to_end()
    assert second.first() == "local-1"
    assert second.read_to_end()[0] == b"second\n"


def _validation_cases(scheduler: pb.Scheduler) -> dict[str, tuple[Any, grpc.StatusCode, str]]:
    def description(**fields: Any) -> pb.JobDescription:
        return pb.JobDescription(executable="cat", **fields)

    invalid = grpc.StatusCode.FAILED_PRECONDITION
    internal = grpc.StatusCode.INTERNAL
    return {
        "no-scheduler": (
            pb.SubmitInteractiveJobRequest(description=description()),
            grpc.StatusCode.NOT_FOUND,
            "Scheduler with id: ",
        ),
        "unknown-scheduler": (
            pb.SubmitInteractiveJobRequest(
                scheduler=pb.Scheduler(id="zzz"), description=description()
            ),
            grpc.StatusCode.NOT_FOUND,
            "Scheduler with id: zzz",
        ),
        "no-description": (
            pb.SubmitInteractiveJobRequest(scheduler=scheduler),
            internal,
            FAILED_TO_START,
        ),
        "empty-executable": (
            pb.SubmitInteractiveJobRequest(scheduler=scheduler, description=pb.JobDescription()),
            internal,
            FAILED_TO_START,
        ),
        "missing-executable": (
            pb.SubmitInteractiveJobRequest(
                scheduler=scheduler, description=pb.JobDescription(executable="/nonexistent/x")
            ),
            internal,
            FAILED_TO_START,
        ),
        "missing-working-directory": (
            pb.SubmitInteractiveJobRequest(
                scheduler=scheduler, description=description(working_directory="/nonexistent/d")
            ),
            internal,
            FAILED_TO_START,
        ),
        "unknown-queue": (
            pb.SubmitInteractiveJobRequest(
                scheduler=scheduler, description=description(queue_name="nope")
            ),
            grpc.StatusCode.NOT_FOUND,
            f"{XENON}schedulers.NoSuchQueueException: local adaptor: "
            "Queue nope not available locally!",
        ),
        "stdout": (
            pb.SubmitInteractiveJobRequest(
                scheduler=scheduler, description=description(stdout="o")
            ),
            invalid,
            INVALID_JOB + "Illegal stdout redirect for interactive job!",
        ),
        "stderr": (
            pb.SubmitInteractiveJobRequest(
                scheduler=scheduler, description=description(stderr="e")
            ),
            invalid,
            INVALID_JOB + "Illegal stderr redirect for interactive job!",
        ),
        "stdin": (
            pb.SubmitInteractiveJobRequest(scheduler=scheduler, description=description(stdin="i")),
            invalid,
            INVALID_JOB + "Illegal stdin redirect for interactive job!",
        ),
        "tasks": (
            pb.SubmitInteractiveJobRequest(scheduler=scheduler, description=description(tasks=2)),
            invalid,
            INVALID_JOB + "Unsupported task count: 2",
        ),
        "empty-argument": (
            pb.SubmitInteractiveJobRequest(
                scheduler=scheduler, description=description(arguments=["a", ""])
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "java.lang.IllegalArgumentException: Argument may not be null or empty!",
        ),
    }


@pytest.mark.parametrize("case", sorted(_validation_cases(pb.Scheduler())))
def test_first_request_errors(
    stub: pb_grpc.SchedulerServiceStub, scheduler: pb.Scheduler, case: str, tmp_path: Path
) -> None:
    request, code, details = _validation_cases(scheduler)[case]
    call = InteractiveCall(stub, request)
    try:
        with rpc_error(code, details):
            call.next()  # the stream ends with the error before any response
    finally:
        call.close()


def test_start_failures_use_up_ids_and_validation_errors_do_not(
    sched: SchedulerClient, tmp_path: Path
) -> None:
    for _ in range(2):
        with rpc_error(grpc.StatusCode.INTERNAL, FAILED_TO_START):
            sched.interactive("/nonexistent/program").next()
    with rpc_error(grpc.StatusCode.FAILED_PRECONDITION, INVALID_JOB + "Unsupported task count: 2"):
        sched.interactive("cat", tasks=2).next()
    with rpc_error(
        grpc.StatusCode.FAILED_PRECONDITION,
        INVALID_JOB + "Illegal stdout redirect for interactive job!",
    ):
        sched.interactive("cat", stdout=str(tmp_path / "o")).next()
    assert not (tmp_path / "o").exists()
    assert sched.jobs() == []  # the failed jobs are not listed
    call = sched.interactive("true")
    assert call.first() == "local-2"
    call.read_to_end()


def test_client_cancel_leaves_the_job_running_to_its_end(
    sched: SchedulerClient, tmp_path: Path
) -> None:
    # The job waits for a file, then writes 5 MB nobody reads, then exits 3: the server must
    # keep draining its output after the client is gone, and must not kill it.
    script = (
        "echo start; cat > /dev/null; echo stdin-closed > stdin.txt; "
        "while [ ! -e go ]; do sleep 0.02; done; head -c 5000000 /dev/zero; exit 3"
    )
    call = sched.interactive("sh", "-c", script, working_directory=str(tmp_path))
    job = call.first()
    assert call.next().stdout == b"start\n"
    call.cancel()
    poll_until((tmp_path / "stdin.txt").exists, what="the job's stdin to be closed")
    assert sched.status(job).state == "RUNNING"
    (tmp_path / "go").touch()
    status = sched.wait_done(job, timeout_ms=5000)  # (Java: blocked on a full pipe, RUNNING)
    assert (status.state, status.exit_code) == ("DONE", 3)


def test_half_close_without_any_request(stub: pb_grpc.SchedulerServiceStub) -> None:
    call = InteractiveCall(stub, None, timeout=2)  # (Java: no answer, DEADLINE_EXCEEDED)
    details = (
        "submitInteractiveJob: the client closed the request stream before sending the first "
        "request (scheduler and job description)"
    )
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, details):
        call.next()


def test_job_status_while_running(sched: SchedulerClient) -> None:
    call = sched.interactive("cat", name="ix")
    job = call.first()
    status = sched.status(job)
    assert (status.state, status.running, status.name) == ("RUNNING", True, "ix")
    assert sched.jobs() == [job]
    started = time.monotonic()
    call.close_stdin()
    call.read_to_end()
    assert sched.wait_done(job).state == "DONE"
    assert time.monotonic() - started < 5
