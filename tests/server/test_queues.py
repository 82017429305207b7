"""Queues: names, statuses, getJobs, and how many jobs each runs at once (reference §2.3)."""

from __future__ import annotations

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc

from ._support import SchedulerClient, rpc_error

NOT_FOUND = grpc.StatusCode.NOT_FOUND
NO_SUCH_QUEUE = "nl.esciencecenter.xenon.schedulers.NoSuchQueueException: local adaptor: "


def queue_status(name: str, error: str = "") -> pb.QueueStatus:
    error_type = pb.QueueStatus.NOT_FOUND if error else pb.QueueStatus.NONE
    return pb.QueueStatus(name=name, error_message=error, error_type=error_type)


def test_queue_status(stub: pb_grpc.SchedulerServiceStub, scheduler: pb.Scheduler) -> None:
    for name in ("single", "multi", "unlimited"):
        request = pb.GetQueueStatusRequest(scheduler=scheduler, queue=name)
        assert stub.getQueueStatus(request) == queue_status(name)


@pytest.mark.parametrize("name", ["", "nope", "SINGLE"])
def test_queue_status_of_unknown_queue(
    stub: pb_grpc.SchedulerServiceStub, scheduler: pb.Scheduler, name: str
) -> None:
    with rpc_error(NOT_FOUND, f"{NO_SUCH_QUEUE}No such queue: {name}"):
        stub.getQueueStatus(pb.GetQueueStatusRequest(scheduler=scheduler, queue=name))


def test_queue_statuses(stub: pb_grpc.SchedulerServiceStub, scheduler: pb.Scheduler) -> None:
    every = stub.getQueueStatuses(pb.SchedulerAndQueues(scheduler=scheduler)).statuses
    assert list(every) == [queue_status(n) for n in ("single", "multi", "unlimited")]
    request = pb.SchedulerAndQueues(scheduler=scheduler, queues=["multi", "nope"])
    assert list(stub.getQueueStatuses(request).statuses) == [
        queue_status("multi"),
        queue_status("nope", "local adaptor: No such queue: nope"),
    ]


def test_get_jobs_order_is_by_queue_then_submission(sched: SchedulerClient) -> None:
    ids = [
        sched.sleeper("single"),
        sched.sleeper("single"),
        sched.sleeper("unlimited"),
        sched.sleeper("multi"),
    ]
    assert ids == ["local-0", "local-1", "local-2", "local-3"]
    assert sched.jobs() == ["local-0", "local-1", "local-3", "local-2"]
    assert sched.jobs("single") == ["local-0", "local-1"]
    assert sched.jobs("unlimited", "multi") == ["local-2", "local-3"]
    assert sched.jobs("multi") == ["local-3"]


@pytest.mark.parametrize("queues", [["nope"], ["single", "nope"], [""]])
def test_get_jobs_with_an_unknown_queue(sched: SchedulerClient, queues: list[str]) -> None:
    sched.sleeper("single")
    bad = next(q for q in queues if q not in ("single", "multi", "unlimited"))
    with rpc_error(NOT_FOUND, f'{NO_SUCH_QUEUE}Queue "{bad}" does not exist'):
        sched.jobs(*queues)


def test_submit_to_an_unknown_queue(sched: SchedulerClient) -> None:
    with rpc_error(NOT_FOUND, f"{NO_SUCH_QUEUE}Queue nope not available locally!"):
        sched.submit("true", queue_name="nope")
    assert sched.submit("true") == "local-0"  # the failed submit used up no id


def test_default_queue_is_single(sched: SchedulerClient) -> None:
    first = sched.sleeper("")
    second = sched.sleeper("single")
    assert sched.jobs("single") == [first, second]


def test_single_runs_one_job_at_a_time(sched: SchedulerClient) -> None:
    first, second = sched.sleeper("single"), sched.sleeper("single")
    assert sched.wait_running(first).state == "RUNNING"
    assert sched.wait_running(second, timeout_ms=200).state == "PENDING"
    assert sched.cancel(first).state == "KILLED"
    assert sched.wait_running(second).state == "RUNNING"


def test_multi_runs_exactly_four_jobs(sched: SchedulerClient) -> None:
    jobs = [sched.sleeper("multi") for _ in range(5)]
    for job in jobs[:4]:
        assert sched.wait_running(job).state == "RUNNING"
    assert sched.wait_running(jobs[4], timeout_ms=300).state == "PENDING"
    sched.cancel(jobs[1])
    assert sched.wait_running(jobs[4]).state == "RUNNING"


def test_unlimited_runs_every_job(sched: SchedulerClient) -> None:
    jobs = [sched.sleeper("unlimited") for _ in range(12)]
    for job in jobs:
        assert sched.wait_running(job).state == "RUNNING"


def test_queues_are_per_scheduler(
    sched: SchedulerClient, stub: pb_grpc.SchedulerServiceStub
) -> None:
    other = SchedulerClient(stub, stub.localScheduler(pb.Empty()))
    try:
        assert sched.wait_running(sched.sleeper("single")).state == "RUNNING"
        job = other.sleeper("single")
        assert job == "local-0"  # ids count per scheduler instance too
        assert other.wait_running(job).state == "RUNNING"
    finally:
        other.cleanup()
