"""Reading job statuses: forgetting, getJobStatuses, waitUntilDone / waitUntilRunning.

Reference §2.5, §2.6 and §2.7.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb

from ._support import SchedulerClient, rpc_error

INTERNAL = grpc.StatusCode.INTERNAL
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
NO_SUCH_JOB = "nl.esciencecenter.xenon.schedulers.NoSuchJobException: local adaptor: "
EMPTY_ID = "java.lang.IllegalArgumentException: Job identifier cannot be null or empty"


def unknown(job_id: str) -> pb.JobStatus:
    return pb.JobStatus(
        job=pb.Job(id=job_id),
        state="UNKNOWN",
        error_type=pb.JobStatus.NOT_FOUND,
        error_message=f"local adaptor: Job {job_id} does not exist!",
    )


READS: dict[str, Callable[[SchedulerClient, str], pb.JobStatus]] = {
    "getJobStatus": lambda s, j: s.status(j),
    "getJobStatuses": lambda s, j: s.statuses(j)[0],
    "waitUntilDone": lambda s, j: s.wait_done(j),
    "waitUntilRunning": lambda s, j: s.wait_running(j),
    "cancelJob": lambda s, j: s.cancel(j),
}


@pytest.mark.parametrize("read", sorted(READS))
def test_final_status_is_returned_once(sched: SchedulerClient, read: str) -> None:
    job = sched.submit("sh", "-c", "exit 3")
    sched.wait_done(sched.submit("true", queue_name="single"))  # single is FIFO: job is done
    assert job in sched.jobs()  # done but unread: still known
    status = READS[read](sched, job)
    assert (status.state, status.exit_code) == ("DONE", 3)
    assert job not in sched.jobs()
    for forgotten in ("getJobStatus", "waitUntilDone", "waitUntilRunning", "cancelJob"):
        with rpc_error(INTERNAL, f"{NO_SUCH_JOB}Job {job} does not exist!"):
            READS[forgotten](sched, job)
    assert sched.statuses(job) == [unknown(job)]


def test_running_status_is_not_a_final_read(sched: SchedulerClient) -> None:
    job = sched.sleeper("unlimited")
    assert sched.wait_running(job).state == "RUNNING"
    assert sched.status(job).state == "RUNNING"
    assert sched.status(job).state == "RUNNING"
    assert sched.jobs() == [job]


def test_statuses_in_request_order(sched: SchedulerClient) -> None:
    running = sched.sleeper("unlimited")
    finished = sched.submit("sh", "-c", "exit 4", queue_name="single")
    sched.wait_done(sched.submit("true", queue_name="single"))  # FIFO: `finished` is done
    sched.wait_running(running)
    statuses = sched.statuses(running, "local-99", finished, "garbage")
    assert [s.job.id for s in statuses] == [running, "local-99", finished, "garbage"]
    assert [s.state for s in statuses] == ["RUNNING", "UNKNOWN", "DONE", "UNKNOWN"]
    assert statuses[1] == unknown("local-99")
    assert statuses[3] == unknown("garbage")
    assert statuses[2].exit_code == 4


def test_statuses_of_no_jobs(sched: SchedulerClient) -> None:
    assert sched.statuses() == []


def test_empty_id_fails_every_read(sched: SchedulerClient) -> None:
    job = sched.submit("true")
    sched.wait_done(sched.submit("true"))  # single is FIFO: job is done, unread
    with rpc_error(INVALID_ARGUMENT, EMPTY_ID):
        sched.statuses(job, "")
    assert job in sched.jobs()  # the failed call read nothing
    with rpc_error(INVALID_ARGUMENT, EMPTY_ID):
        sched.status("")
    with rpc_error(INVALID_ARGUMENT, EMPTY_ID):
        sched.wait_done("")
    with rpc_error(INVALID_ARGUMENT, EMPTY_ID):
        sched.wait_running("")
    with rpc_error(INVALID_ARGUMENT, EMPTY_ID):
        sched.cancel("")


@pytest.mark.parametrize("read", sorted(READS))
def test_unknown_job(sched: SchedulerClient, read: str) -> None:
    if read == "getJobStatuses":
        assert sched.statuses("local-999") == [unknown("local-999")]
        return
    with rpc_error(INTERNAL, f"{NO_SUCH_JOB}Job local-999 does not exist!"):
        READS[read](sched, "local-999")


def test_wait_until_done_without_limit(sched: SchedulerClient) -> None:
    job = sched.submit("sh", "-c", "sleep 0.3; exit 5")
    status = sched.wait_done(job, timeout_ms=0)
    assert (status.state, status.done, status.exit_code) == ("DONE", True, 5)


def test_wait_until_done_times_out_with_the_current_status(sched: SchedulerClient) -> None:
    job = sched.sleeper("unlimited")
    sched.wait_running(job)
    started = time.monotonic()
    status = sched.wait_done(job, timeout_ms=300)
    assert time.monotonic() - started >= 0.29
    assert status == pb.JobStatus(job=pb.Job(id=job), state="RUNNING", running=True)
    assert sched.wait_done(job, timeout_ms=1).state == "RUNNING"


def test_wait_until_running(sched: SchedulerClient) -> None:
    first = sched.sleeper("single")
    second = sched.sleeper("single")
    assert sched.wait_running(first, timeout_ms=0).state == "RUNNING"
    started = time.monotonic()
    assert sched.wait_running(first, timeout_ms=0).state == "RUNNING"
    assert time.monotonic() - started < 1.0
    assert sched.wait_running(second, timeout_ms=200).state == "PENDING"


def test_waits_are_event_driven(sched: SchedulerClient) -> None:
    """No 1 s polling step: a job of 0.1 s is seen done well under the Java polling delay
    (xenon-grpc sees every such job done after 1.0 s)."""
    for _ in range(3):
        started = time.monotonic()
        status = sched.wait_done(sched.submit("sleep", "0.1", queue_name="unlimited"))
        assert status.state == "DONE"
        assert time.monotonic() - started < 0.6
