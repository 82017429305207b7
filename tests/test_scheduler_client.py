"""The scheduler client against both servers: typed values, blocking calls, errors."""

from __future__ import annotations

import os
import pwd
import re
import threading
import time

import pytest
from reactivex import operators as ops

import rxxenon
from rxxenon import JobDescription, JobErrorType, QueueErrorType
from tests.conftest import python_job
from tests.helpers import Collector, wait_for


def test_adaptors_are_described(xenon: rxxenon.Connection) -> None:
    names = xenon.get_scheduler_adaptor_names()
    assert names[0] == "local"  # the embedded server has only this one
    descriptions = xenon.get_scheduler_adaptor_descriptions()
    assert [d.name for d in descriptions] == names
    local = descriptions[0]
    assert local == xenon.get_scheduler_adaptor_description("local")
    assert (local.supports_interactive, local.supports_batch, local.is_embedded) == (
        True,
        True,
        True,
    )
    assert (
        local.description
        == "The local jobs adaptor implements all functionality by emulating a local queue."
    )
    properties = {p.name: p for p in local.supported_properties}
    delay = properties["xenon.adaptors.schedulers.local.queue.pollingDelay"]
    assert (delay.type, delay.default_value) == (rxxenon.PropertyType.LONG, "1000")
    with pytest.raises(rxxenon.UnknownAdaptorError):
        xenon.get_scheduler_adaptor_description("nope")


def test_create_list_and_close(xenon: rxxenon.Connection) -> None:
    with xenon.create_scheduler("local", location="/tmp") as scheduler:
        user = pwd.getpwuid(os.getuid()).pw_name
        assert re.fullmatch(rf"local://{user}@/tmp#-?[0-9]+", scheduler.id)
        assert scheduler in xenon.list_schedulers()
        assert scheduler.get_location() == "/tmp"
        assert scheduler.get_adaptor_name() == "local"
        assert scheduler.get_properties() == {}
        assert scheduler.is_open()
        assert isinstance(scheduler.get_credential(), rxxenon.DefaultCredential)
    assert scheduler not in xenon.list_schedulers()
    with pytest.raises(rxxenon.NoSuchSchedulerError) as raised:
        scheduler.is_open()
    assert raised.value.details == f"Scheduler with id: {scheduler.id}"
    scheduler.close()  # closing twice is harmless on the client side


def test_create_errors_are_typed(xenon: rxxenon.Connection) -> None:
    with pytest.raises(rxxenon.InvalidLocationError):
        xenon.create_scheduler("local", location="relative/dir")
    with pytest.raises(rxxenon.UnknownPropertyError):
        xenon.create_scheduler("local", properties={"foo": "bar"})
    with pytest.raises(rxxenon.InvalidCredentialError):
        xenon.create_scheduler("local", credential=rxxenon.PasswordCredential("u", "p"))
    with pytest.raises(rxxenon.UnknownAdaptorError):
        xenon.create_scheduler("nope")


def test_queues(scheduler: rxxenon.Scheduler) -> None:
    assert scheduler.get_queue_names() == ["single", "multi", "unlimited"]
    assert scheduler.get_default_queue_name() == "single"
    assert scheduler.get_default_runtime() == 0
    status = scheduler.get_queue_status("multi")
    assert (status.name, status.error_type) == ("multi", QueueErrorType.NONE)
    statuses = scheduler.get_queue_statuses(["multi", "nope"])
    assert [(s.name, s.error_type) for s in statuses] == [
        ("multi", QueueErrorType.NONE),
        ("nope", QueueErrorType.NOT_FOUND),
    ]
    with pytest.raises(rxxenon.NoSuchQueueError):
        scheduler.get_queue_status("nope")


def test_batch_job_lifecycle_and_forgetting(scheduler: rxxenon.Scheduler) -> None:
    job = scheduler.submit_batch_job(python_job("import sys; sys.exit(7)", name="seven"))
    assert job.id == "local-0"
    assert job in scheduler.get_jobs()
    status = scheduler.wait_until_done(job, timeout=30)
    assert (status.state, status.done, status.exit_code, status.name) == ("DONE", True, 7, "seven")
    assert status.error_type is JobErrorType.NONE
    with pytest.raises(rxxenon.NoSuchJobError):
        scheduler.get_job_status(job)
    [unknown] = scheduler.get_job_statuses([job])
    assert (unknown.state, unknown.error_type) == ("UNKNOWN", JobErrorType.NOT_FOUND)


def test_wait_until_running_and_cancel(scheduler: rxxenon.Scheduler) -> None:
    first = scheduler.submit_batch_job(JobDescription(executable="sleep", arguments=["60"]))
    second = scheduler.submit_batch_job(JobDescription(executable="sleep", arguments=["60"]))
    assert scheduler.wait_until_running(first, timeout=30).running
    pending = scheduler.wait_until_running(second, timeout=0.2)
    assert (pending.state, pending.running) == ("PENDING", False)
    assert [s.state for s in scheduler.get_job_statuses([first, second])] == ["RUNNING", "PENDING"]
    killed = scheduler.cancel_job(second)
    assert (killed.state, killed.error_type, killed.error_message) == (
        "KILLED",
        JobErrorType.CANCELLED,
        "local adaptor: Process cancelled by user.",
    )
    assert scheduler.cancel_job(first).state == "KILLED"


def test_status_changes_emits_each_state_until_done(scheduler: rxxenon.Scheduler) -> None:
    blocker = scheduler.submit_batch_job(JobDescription(executable="sleep", arguments=["60"]))
    job = scheduler.submit_batch_job(python_job("pass", queue="single"))
    states: list[str] = []
    done = threading.Event()
    scheduler.status_changes(job).pipe(ops.map(lambda s: s.state)).subscribe(
        states.append, on_completed=done.set
    )
    assert wait_for(lambda: states == ["PENDING"])
    scheduler.cancel_job(blocker)
    assert done.wait(30)
    assert states[0] == "PENDING"
    assert states[-1] == "DONE"
    assert set(states) <= {"PENDING", "RUNNING", "DONE"}


def test_status_changes_of_an_unknown_job_fails_typed(scheduler: rxxenon.Scheduler) -> None:
    with pytest.raises(rxxenon.NoSuchJobError):
        scheduler.status_changes("local-99").run()


def test_batch_validation_errors(scheduler: rxxenon.Scheduler) -> None:
    with pytest.raises(rxxenon.InvalidJobDescriptionError):
        scheduler.submit_batch_job(JobDescription(executable="true", tasks=2))
    with pytest.raises(rxxenon.NoSuchQueueError):
        scheduler.submit_batch_job(JobDescription(executable="true", queue_name="nope"))
    with pytest.raises(rxxenon.IllegalArgumentError):
        scheduler.submit_batch_job(JobDescription(executable="echo", arguments=[""]))


def test_file_system_handle(scheduler: rxxenon.Scheduler) -> None:
    fs = scheduler.get_file_system()
    assert fs.id.startswith("file://")
    assert scheduler.get_file_system() == fs


def test_connect_by_address(xenon: rxxenon.Connection) -> None:
    with rxxenon.connect(xenon.target) as other:
        assert other.server is None
        assert other.get_scheduler_adaptor_names() == xenon.get_scheduler_adaptor_names()


@pytest.mark.embedded_only  # starts no server
def test_connect_to_nothing_fails_typed() -> None:
    with pytest.raises(rxxenon.UnavailableError):
        rxxenon.connect("127.0.0.1:1", ready_timeout=0.5)


@pytest.mark.embedded_only  # the client's threads, with an embedded server of its own
def test_connect_and_close_leave_no_threads() -> None:
    before = set(threading.enumerate())
    with rxxenon.connect() as connection, connection.local_scheduler() as scheduler:
        job = scheduler.submit_interactive_job(
            JobDescription(executable="cat", queue_name="multi"), timeout=30
        )
        job.send("x\n")
        job.close_stdin()
        assert job.wait(timeout=30).exit_code == 0
    assert wait_for(lambda: set(threading.enumerate()) <= before), (
        set(threading.enumerate()) - before
    )


@pytest.mark.embedded_only  # closing stops the embedded server the connection started
def test_closing_the_connection_ends_open_streams() -> None:
    connection = rxxenon.connect()
    scheduler = connection.local_scheduler()
    job = scheduler.submit_interactive_job(JobDescription(executable="cat", queue_name="multi"))
    out = Collector[bytes]()
    job.stdout.subscribe(out)
    connection.close()  # stops the embedded server too, which kills cat
    out.wait()
    assert isinstance(out.error, rxxenon.CancelledError)


@pytest.mark.embedded_only  # the client's own event loop
def test_a_close_refused_on_the_event_loop_leaves_the_connection_to_close_later() -> None:
    threads_before = set(threading.enumerate())
    connection = rxxenon.connect()
    outcome: list[BaseException] = []
    tried = threading.Event()

    def close_on_the_loop() -> None:
        try:
            connection.close()
        except BaseException as exc:
            outcome.append(exc)
        tried.set()

    connection.loop.call_soon(close_on_the_loop)
    assert tried.wait(10)
    assert len(outcome) == 1
    assert isinstance(outcome[0], rxxenon.LoopThreadError)
    assert connection.get_scheduler_adaptor_names() == ["local"]  # still open
    connection.close()  # its loop thread, the stand-in and the rest end
    assert wait_for(lambda: set(threading.enumerate()) <= threads_before), (
        set(threading.enumerate()) - threads_before
    )


@pytest.mark.embedded_only  # the client's delivery threads
def test_closing_the_connection_from_a_subscriber_does_not_deadlock() -> None:
    threads_before = set(threading.enumerate())
    connection = rxxenon.connect()
    scheduler = connection.local_scheduler()
    job = scheduler.submit_interactive_job(JobDescription(executable="cat", queue_name="multi"))
    closed = threading.Event()
    took: list[float] = []

    def close_on_first_chunk(_: bytes) -> None:
        start = time.monotonic()
        connection.close()
        took.append(time.monotonic() - start)
        closed.set()

    job.stdout.subscribe(close_on_first_chunk)
    job.send("x\n")
    assert closed.wait(30)
    # Not a wait for its own threads to end, which they do only once this observer returns.
    assert took[0] < 5
    assert wait_for(lambda: set(threading.enumerate()) <= threads_before), (
        set(threading.enumerate()) - threads_before
    )
