"""submitBatchJob: ids, arguments, environment, directories, files, start errors, exit codes.

Reference §2.4 and §2.5.
"""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb

from ._support import SchedulerClient, rpc_error

FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
INVALID_JOB = "nl.esciencecenter.xenon.schedulers.InvalidJobDescriptionException: local adaptor: "
XENON = pb.JobStatus.XENON


def done(job_id: str, exit_code: int = 0, name: str = "") -> pb.JobStatus:
    return pb.JobStatus(
        job=pb.Job(id=job_id), state="DONE", done=True, exit_code=exit_code, name=name
    )


def error(job_id: str, message: str) -> pb.JobStatus:
    return pb.JobStatus(
        job=pb.Job(id=job_id), state="ERROR", done=True, error_type=XENON, error_message=message
    )


def test_ids_count_per_scheduler(sched: SchedulerClient) -> None:
    assert [sched.submit("true") for _ in range(3)] == ["local-0", "local-1", "local-2"]


def test_arguments_are_passed_verbatim(sched: SchedulerClient, tmp_path: Path) -> None:
    arguments = ["a b", "$HOME", "*", "'q'", '"dq"', "x\ny", "é"]
    status = sched.run(
        "printf", "[%s]\n", *arguments, working_directory=str(tmp_path), stdout="out.txt"
    )
    assert status.state == "DONE"
    assert (tmp_path / "out.txt").read_text() == "".join(f"[{a}]\n" for a in arguments)


def test_empty_argument_is_rejected(sched: SchedulerClient) -> None:
    details = "java.lang.IllegalArgumentException: Argument may not be null or empty!"
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, details):
        sched.submit("echo", "a", "")
    assert sched.submit("true") == "local-0"


def test_environment_is_added_to_the_servers(sched: SchedulerClient, tmp_path: Path) -> None:
    status = sched.run(
        "sh",
        "-c",
        'printf "%s|%s|%s" "$A" "$B" "$HOME"',
        environment={"A": "1", "B": "two words"},
        working_directory=str(tmp_path),
        stdout="env.txt",
    )
    assert status.exit_code == 0
    assert (tmp_path / "env.txt").read_text() == f"1|two words|{os.environ['HOME']}"


def test_working_directory(sched: SchedulerClient, tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    sched.run("sh", "-c", "pwd > pwd.txt", working_directory=str(tmp_path))
    assert (tmp_path / "pwd.txt").read_text() == f"{tmp_path}\n"
    # A relative directory is relative to the scheduler's file system: the server's cwd.
    relative = os.path.relpath(tmp_path / "work", os.getcwd())
    sched.run("sh", "-c", "pwd > pwd.txt", working_directory=relative)
    assert (tmp_path / "work" / "pwd.txt").read_text() == f"{tmp_path / 'work'}\n"


def test_empty_working_directory_is_the_servers_cwd(sched: SchedulerClient, tmp_path: Path) -> None:
    sched.run("sh", "-c", f"pwd > {tmp_path}/pwd.txt")
    assert (tmp_path / "pwd.txt").read_text() == f"{os.getcwd()}\n"


def test_working_directory_of_a_scheduler_with_a_location(
    sched: SchedulerClient, tmp_path: Path
) -> None:
    scheduler = sched.stub.create(
        pb.CreateSchedulerRequest(adaptor="local", location=str(tmp_path))
    )
    located = SchedulerClient(sched.stub, scheduler)
    try:
        (tmp_path / "sub").mkdir()
        located.run("sh", "-c", "pwd > pwd.txt")
        located.run("sh", "-c", "pwd > pwd.txt", working_directory="sub")
        assert (tmp_path / "pwd.txt").read_text() == f"{tmp_path}\n"
        assert (tmp_path / "sub" / "pwd.txt").read_text() == f"{tmp_path / 'sub'}\n"
    finally:
        located.cleanup()


def test_stdio_files_are_relative_to_the_working_directory(
    sched: SchedulerClient, tmp_path: Path
) -> None:
    (tmp_path / "in.txt").write_text("from a file\n")
    status = sched.run(
        "sh",
        "-c",
        "cat; echo oops >&2",
        working_directory=str(tmp_path),
        stdin="in.txt",
        stdout="o.txt",
        stderr="e.txt",
    )
    assert status == done(status.job.id)
    assert (tmp_path / "o.txt").read_text() == "from a file\n"
    assert (tmp_path / "e.txt").read_text() == "oops\n"


def test_without_stdin_the_job_sees_end_of_file(sched: SchedulerClient, tmp_path: Path) -> None:
    status = sched.run("cat", working_directory=str(tmp_path), stdout="o.txt")
    assert status.state == "DONE"
    assert (tmp_path / "o.txt").read_bytes() == b""


def test_name_is_echoed(sched: SchedulerClient) -> None:
    job = sched.submit("true", name="my job")
    assert sched.wait_done(job) == done(job, name="my job")


@pytest.mark.parametrize("exit_code", [3, 7, 255])
def test_non_zero_exit_is_done(sched: SchedulerClient, exit_code: int) -> None:
    job = sched.submit("sh", "-c", f"exit {exit_code}")
    assert sched.wait_done(job) == done(job, exit_code)


def test_killed_by_a_signal_is_128_plus_the_signal(sched: SchedulerClient) -> None:
    job = sched.submit("sh", "-c", "kill -9 $$")
    assert sched.wait_done(job) == done(job, 137)
    job = sched.submit("sh", "-c", "kill -15 $$")
    assert sched.wait_done(job) == done(job, 143)


def test_pending_and_running_statuses(sched: SchedulerClient) -> None:
    first = sched.sleeper("single")
    second = sched.submit("sleep", "60", name="second")
    assert sched.wait_running(first) == pb.JobStatus(
        job=pb.Job(id=first), state="RUNNING", running=True
    )
    assert sched.status(second) == pb.JobStatus(
        job=pb.Job(id=second), state="PENDING", name="second"
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tasks", 2, "Unsupported task count: 2"),
        ("tasks_per_node", 2, "Unsupported task per node count: 2"),
    ],
)
def test_unsupported_task_counts(
    sched: SchedulerClient, field: str, value: int, message: str
) -> None:
    with rpc_error(FAILED_PRECONDITION, INVALID_JOB + message):
        sched.submit("true", **{field: value})


def test_accepted_without_effect(sched: SchedulerClient) -> None:
    job = sched.submit(
        "true",
        tasks=1,
        tasks_per_node=1,
        cores_per_task=2,
        max_memory=100,
        scheduler_arguments=["--foo"],
        start_time="garbage",
        temp_space=5,
        start_per_task=True,
    )
    assert sched.wait_done(job) == done(job)
    job = sched.submit("true", tasks=0)
    assert sched.wait_done(job) == done(job)


@pytest.mark.parametrize(
    ("executable", "arguments"),
    [
        ("/nonexistent/program", []),
        ("no-such-program-on-path", []),
        ("", []),
        ("/etc/passwd", []),
        ("/tmp", []),
    ],
    ids=["missing-absolute", "missing-on-path", "empty", "not-executable", "directory"],
)
def test_failed_to_start(sched: SchedulerClient, executable: str, arguments: list[str]) -> None:
    job = sched.submit(executable, *arguments)
    assert sched.wait_done(job) == error(job, "local adaptor: Failed to start local process!")


def test_missing_working_directory(sched: SchedulerClient, tmp_path: Path) -> None:
    job = sched.submit("true", working_directory=str(tmp_path / "missing"))
    assert sched.wait_done(job) == error(job, "local adaptor: Error starting job.")


def test_missing_stdin_file(sched: SchedulerClient, tmp_path: Path) -> None:
    job = sched.submit("cat", working_directory=str(tmp_path), stdin="missing.txt")
    assert sched.wait_done(job) == error(job, "local adaptor: Error starting job.")


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_existing_output_file(sched: SchedulerClient, tmp_path: Path, stream: str) -> None:
    (tmp_path / "exists.txt").write_text("keep me")
    job = sched.submit("echo", "x", working_directory=str(tmp_path), **{stream: "exists.txt"})
    message = f"file adaptor: File already exists: {tmp_path / 'exists.txt'}"
    assert sched.wait_done(job) == error(job, message)
    assert (tmp_path / "exists.txt").read_text() == "keep me"


def test_dev_null_counts_as_existing(sched: SchedulerClient) -> None:
    job = sched.submit("echo", "x", stdout="/dev/null")
    assert sched.wait_done(job) == error(job, "file adaptor: File already exists: /dev/null")


def test_stdout_and_stderr_the_same_file(sched: SchedulerClient, tmp_path: Path) -> None:
    job = sched.submit("echo", "x", working_directory=str(tmp_path), stdout="o", stderr="o")
    message = f"file adaptor: File already exists: {tmp_path / 'o'}"
    assert sched.wait_done(job) == error(job, message)


def test_stdout_directory_missing(sched: SchedulerClient, tmp_path: Path) -> None:
    job = sched.submit("echo", "x", working_directory=str(tmp_path), stdout="missing/o.txt")
    assert sched.wait_done(job) == error(job, "file adaptor: Failed to create OutputStream.")


def test_start_errors_are_read_through_status(sched: SchedulerClient) -> None:
    job = sched.submit("/nonexistent/program")
    status = sched.wait_running(job)  # running or done: here done, so this read forgets it
    assert status == error(job, "local adaptor: Failed to start local process!")
