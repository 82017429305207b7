"""create / localScheduler / listSchedulers / close / information calls (reference §2.1, §2.2)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from rxxenon.server._registry import os_user

from ._support import CALL_TIMEOUT, SchedulerClient, process_gone, read_pid, rpc_error

NOT_FOUND = grpc.StatusCode.NOT_FOUND
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
USER = os_user()
XENON = "nl.esciencecenter.xenon."
POLLING_DELAY = "xenon.adaptors.schedulers.local.queue.pollingDelay"
MAX_CONCURRENT = "xenon.adaptors.schedulers.local.queue.multi.maxConcurrentJobs"


def create(stub: pb_grpc.SchedulerServiceStub, **fields: Any) -> pb.Scheduler:
    return stub.create(pb.CreateSchedulerRequest(adaptor="local", **fields), timeout=CALL_TIMEOUT)


@pytest.fixture
def opened(stub: pb_grpc.SchedulerServiceStub) -> Any:
    """Create schedulers that are closed after the test (if still open)."""
    made: list[pb.Scheduler] = []

    def make(**fields: Any) -> pb.Scheduler:
        made.append(create(stub, **fields))
        return made[-1]

    yield make
    for scheduler in made:
        with contextlib.suppress(grpc.RpcError):  # closed by the test already
            stub.close(scheduler)


def test_ids_are_new_per_create(stub: pb_grpc.SchedulerServiceStub, opened: Any) -> None:
    pattern = re.compile(rf"local://{re.escape(USER)}@#-?\d+")
    first, second = opened(), opened()
    assert pattern.fullmatch(first.id), first.id
    assert pattern.fullmatch(second.id), second.id
    assert first.id != second.id
    local = stub.localScheduler(pb.Empty())
    try:
        assert pattern.fullmatch(local.id), local.id
        assert local.id not in (first.id, second.id)
        assert stub.getLocation(local).location == ""
    finally:
        stub.close(local)


def test_location_is_kept_and_not_checked(stub: pb_grpc.SchedulerServiceStub, opened: Any) -> None:
    tmp = opened(location="/tmp")
    assert re.fullmatch(rf"local://{re.escape(USER)}@/tmp#-?\d+", tmp.id), tmp.id
    assert stub.getLocation(tmp).location == "/tmp"
    missing = opened(location="/nonexistent/dir")
    assert stub.getLocation(missing).location == "/nonexistent/dir"
    assert stub.getLocation(opened()).location == ""


@pytest.mark.parametrize("location", ["local://", "relative/dir", "ssh://foo"])
def test_location_must_be_absolute(stub: pb_grpc.SchedulerServiceStub, location: str) -> None:
    details = f"{XENON}InvalidLocationException: local adaptor: Path is not absolute! {location}"
    with rpc_error(FAILED_PRECONDITION, details):
        create(stub, location=location)


@pytest.mark.parametrize(
    "properties",
    [{POLLING_DELAY: "100"}, {MAX_CONCURRENT: "2"}, {"foo": "bar"}],
    ids=["pollingDelay", "maxConcurrentJobs", "unknown"],
)
def test_every_property_is_unknown(
    stub: pb_grpc.SchedulerServiceStub, properties: dict[str, str]
) -> None:
    (name,) = properties
    details = f"{XENON}UnknownPropertyException: XenonProperties adaptor: Unknown property {name}"
    with rpc_error(NOT_FOUND, details):
        create(stub, properties=properties)


@pytest.mark.parametrize(
    ("name", "value", "type_name"),
    [(POLLING_DELAY, "abc", "LONG"), (MAX_CONCURRENT, "abc", "INTEGER")],
)
def test_bad_property_value_is_invalid(
    stub: pb_grpc.SchedulerServiceStub, name: str, value: str, type_name: str
) -> None:
    details = (
        f"{XENON}InvalidPropertyException: XenonProperties adaptor: "
        f'Property "{name}" has invalid value: {value} (expected {type_name})'
    )
    with rpc_error(FAILED_PRECONDITION, details):
        create(stub, properties={name: value})


@pytest.mark.parametrize(
    "credential",
    [
        {"password_credential": pb.PasswordCredential(username="u", password="p")},
        {"certificate_credential": pb.CertificateCredential(certfile="/k", username="u")},
        {"credential_map": pb.CredentialMap(default_credential=pb.DefaultCredential())},
    ],
    ids=["password", "certificate", "credential-map"],
)
def test_only_default_credentials(
    stub: pb_grpc.SchedulerServiceStub, credential: dict[str, Any]
) -> None:
    details = (
        f"{XENON}InvalidCredentialException: local adaptor: "
        "Local scheduler does not support this credential!"
    )
    with rpc_error(FAILED_PRECONDITION, details):
        create(stub, **credential)


def test_default_credential_names_the_id_user_only(
    stub: pb_grpc.SchedulerServiceStub, opened: Any
) -> None:
    scheduler = opened(default_credential=pb.DefaultCredential(username="someone"))
    assert re.fullmatch(r"local://someone@#-?\d+", scheduler.id), scheduler.id
    credential = stub.getCredential(scheduler)
    assert credential == pb.GetCredentialResponse(
        default_credential=pb.DefaultCredential(username=USER)
    )


@pytest.mark.parametrize(
    ("adaptor", "message"),
    [("nope", "Adaptor 'nope' not found"), ("", "Adaptor name may not be empty")],
)
def test_unknown_adaptor(stub: pb_grpc.SchedulerServiceStub, adaptor: str, message: str) -> None:
    details = f"{XENON}UnknownAdaptorException: AdaptorLoader adaptor: {message}"
    with rpc_error(NOT_FOUND, details):
        stub.create(pb.CreateSchedulerRequest(adaptor=adaptor))


def test_information_calls(stub: pb_grpc.SchedulerServiceStub, scheduler: pb.Scheduler) -> None:
    assert stub.getAdaptorName(scheduler).name == "local"
    assert stub.getLocation(scheduler).location == ""
    assert stub.getProperties(scheduler) == pb.Properties()
    assert stub.getCredential(scheduler) == pb.GetCredentialResponse(
        default_credential=pb.DefaultCredential(username=USER)
    )
    assert stub.isOpen(scheduler).value is True
    assert list(stub.getQueueNames(scheduler).name) == ["single", "multi", "unlimited"]
    assert stub.getDefaultQueueName(scheduler).name == "single"
    assert stub.getDefaultRuntime(scheduler).value == 0


def test_file_system_is_stable(stub: pb_grpc.SchedulerServiceStub, opened: Any) -> None:
    default = opened()
    filesystem = stub.getFileSystem(default).id
    assert re.fullmatch(rf"file://{re.escape(USER)}@{re.escape(os.getcwd())}#-?\d+", filesystem)
    assert stub.getFileSystem(default).id == filesystem
    tmp = stub.getFileSystem(opened(location="/tmp")).id
    assert re.fullmatch(rf"file://{re.escape(USER)}@/tmp#-?\d+", tmp), tmp
    assert tmp != filesystem


def test_list_and_close(stub: pb_grpc.SchedulerServiceStub, opened: Any) -> None:
    first, second = opened(), opened()
    listed = {s.id for s in stub.listSchedulers(pb.Empty()).schedulers}
    assert {first.id, second.id} <= listed
    assert stub.close(first) == pb.Empty()
    listed = {s.id for s in stub.listSchedulers(pb.Empty()).schedulers}
    assert first.id not in listed
    assert second.id in listed
    with rpc_error(NOT_FOUND, f"Scheduler with id: {first.id}"):
        stub.close(first)
    with rpc_error(NOT_FOUND, f"Scheduler with id: {first.id}"):
        stub.isOpen(first)


def test_list_schedulers_in_creation_order(stub: pb_grpc.SchedulerServiceStub, opened: Any) -> None:
    made = [opened().id for _ in range(8)]  # (by chance in hash-map order: 1 in 40320)
    listed = [s.id for s in stub.listSchedulers(pb.Empty()).schedulers]
    assert [i for i in listed if i in made] == made


def _calls(scheduler: pb.Scheduler) -> dict[str, Callable[[pb_grpc.SchedulerServiceStub], Any]]:
    job = pb.Job(id="local-0")
    both = pb.SchedulerAndQueues(scheduler=scheduler)
    wait = pb.WaitRequest(scheduler=scheduler, job=job)
    job_request = pb.JobRequest(scheduler=scheduler, job=job)
    description = pb.JobDescription(executable="true")
    return {
        "getAdaptorName": lambda s: s.getAdaptorName(scheduler),
        "getLocation": lambda s: s.getLocation(scheduler),
        "getCredential": lambda s: s.getCredential(scheduler),
        "getProperties": lambda s: s.getProperties(scheduler),
        "submitBatchJob": lambda s: s.submitBatchJob(
            pb.SubmitBatchJobRequest(scheduler=scheduler, description=description)
        ),
        "submitInteractiveJob": lambda s: list(
            s.submitInteractiveJob(
                iter([pb.SubmitInteractiveJobRequest(scheduler=scheduler, description=description)])
            )
        ),
        "getQueueNames": lambda s: s.getQueueNames(scheduler),
        "getDefaultQueueName": lambda s: s.getDefaultQueueName(scheduler),
        "getJobs": lambda s: s.getJobs(both),
        "getJobStatus": lambda s: s.getJobStatus(job_request),
        "getJobStatuses": lambda s: s.getJobStatuses(
            pb.GetJobStatusesRequest(scheduler=scheduler, jobs=[job])
        ),
        "getQueueStatus": lambda s: s.getQueueStatus(
            pb.GetQueueStatusRequest(scheduler=scheduler, queue="single")
        ),
        "getQueueStatuses": lambda s: s.getQueueStatuses(both),
        "waitUntilDone": lambda s: s.waitUntilDone(wait),
        "waitUntilRunning": lambda s: s.waitUntilRunning(wait),
        "isOpen": lambda s: s.isOpen(scheduler),
        "cancelJob": lambda s: s.cancelJob(job_request),
        "getDefaultRuntime": lambda s: s.getDefaultRuntime(scheduler),
        "getFileSystem": lambda s: s.getFileSystem(scheduler),
        "close": lambda s: s.close(scheduler),
    }


@pytest.mark.parametrize("scheduler_id", ["zzz", "", "local://root@#1"])
@pytest.mark.parametrize("call", sorted(_calls(pb.Scheduler())))
def test_unknown_scheduler_on_every_call(
    stub: pb_grpc.SchedulerServiceStub, call: str, scheduler_id: str
) -> None:
    invoke = _calls(pb.Scheduler(id=scheduler_id))[call]
    with rpc_error(NOT_FOUND, f"Scheduler with id: {scheduler_id}"):
        invoke(stub)


def test_closed_scheduler_on_every_call(stub: pb_grpc.SchedulerServiceStub) -> None:
    scheduler = create(stub)
    stub.close(scheduler)
    for invoke in _calls(scheduler).values():
        with rpc_error(NOT_FOUND, f"Scheduler with id: {scheduler.id}"):
            invoke(stub)


def test_closing_does_not_kill_jobs(stub: pb_grpc.SchedulerServiceStub, tmp_path: Path) -> None:
    client = SchedulerClient(stub, create(stub))
    client.submit("sh", "-c", "echo $$ > pid; exec sleep 60", working_directory=str(tmp_path))
    interactive = client.interactive("cat", queue_name="unlimited")
    pid = None
    try:
        interactive.first()
        interactive.send(b"before\n")
        assert interactive.next().stdout == b"before\n"
        pid = read_pid(tmp_path / "pid")
        stub.close(client.scheduler)
        # The batch job runs on, and the open interactive stream works on until its end.
        assert not process_gone(pid)
        interactive.send(b"after\n")
        assert interactive.next().stdout == b"after\n"
        interactive.close_stdin()
        assert interactive.read_to_end()[:2] == (b"", b"")
        assert interactive.call.code() == grpc.StatusCode.OK
        assert not process_gone(pid)
    finally:
        interactive.close()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
