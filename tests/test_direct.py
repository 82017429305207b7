"""Blocking calls over TCP run on the caller's thread (``rxxenon._direct``), against the real
servers: they do not wait for the connection's event loop, run side by side, and a close
cuts them short with a typed error, leaving no socket or thread behind."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator

import pytest

import rxxenon
from tests.conftest import python_job
from tests.helpers import wait_for
from tests.servers import ServerUnderTest


@pytest.fixture
def connection(xenon_server: ServerUnderTest) -> Iterator[rxxenon.Connection]:
    """A connection of the test's own, over TCP, to the server under test."""
    with rxxenon.connect(xenon_server.address) as connection:
        yield connection


def test_a_blocking_call_does_not_wait_for_the_event_loop(
    connection: rxxenon.Connection,
) -> None:
    loop_held = threading.Event()
    release = threading.Event()
    released_by_us: list[bool] = []

    def hold_the_loop() -> None:  # stands for an observer stuck on the loop
        loop_held.set()
        released_by_us.append(release.wait(10))

    connection.loop.call_soon(hold_the_loop)
    try:
        assert loop_held.wait(10)
        assert connection.get_scheduler_adaptor_names()
        with connection.local_scheduler() as scheduler:
            job = scheduler.submit_batch_job(rxxenon.JobDescription(executable="true"))
            assert scheduler.wait_until_done(job, timeout=30).exit_code == 0
    finally:
        release.set()
    assert wait_for(lambda: bool(released_by_us))
    assert released_by_us == [True], "the calls waited until the loop was free"


def test_blocking_calls_from_many_threads_at_once(connection: rxxenon.Connection) -> None:
    with connection.local_scheduler() as scheduler:
        jobs = [
            scheduler.submit_batch_job(rxxenon.JobDescription(executable="true")) for _ in range(8)
        ]
        statuses: dict[str, rxxenon.JobStatus] = {}
        failures: list[BaseException] = []

        def wait(job: rxxenon.Job) -> None:
            try:
                statuses[job.id] = scheduler.wait_until_done(job, timeout=30)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=wait, args=(job,)) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(40)
        assert not failures
        assert sorted(statuses) == sorted(job.id for job in jobs)
        assert all(status.exit_code == 0 for status in statuses.values())


def test_closing_the_connection_cuts_a_blocking_call_short(
    xenon_server: ServerUnderTest,
) -> None:
    connection = rxxenon.connect(xenon_server.address)
    scheduler = connection.local_scheduler()
    job = scheduler.submit_batch_job(python_job("import time; time.sleep(60)"))
    assert wait_for(lambda: scheduler.get_job_status(job).running, timeout=30)
    outcome: list[BaseException] = []

    def wait_without_limit() -> None:
        try:
            scheduler.wait_until_done(job)
        except BaseException as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait_without_limit, daemon=True)
    waiter.start()
    try:
        assert wait_for(lambda: _blocked_in_grpc(waiter), timeout=10)
    finally:
        connection.close()
        with rxxenon.connect(xenon_server.address) as other:  # the server keeps nothing running
            (same,) = [s for s in other.list_schedulers() if s.id == scheduler.id]
            same.cancel_job(job)
            same.close()
    waiter.join(10)
    assert not waiter.is_alive(), "the blocking call hung after close"
    assert len(outcome) == 1
    assert isinstance(outcome[0], rxxenon.CancelledError), repr(outcome[0])
    with pytest.raises(rxxenon.CancelledError):  # and later calls fail at once
        scheduler.get_job_status(job)


def test_a_closed_connection_leaves_no_socket_or_thread(xenon_server: ServerUnderTest) -> None:
    # Channels of their own: else gRPC's core shares connections between channels to the
    # same target, and a channel left open would keep nothing open that was not already.
    own = [("grpc.use_local_subchannel_pool", 1)]
    with rxxenon.connect(xenon_server.address, options=own) as warm_up:  # grpc's threads start
        warm_up.get_scheduler_adaptor_names()
    del warm_up
    fds_before = _open_fds()
    threads_before = set(threading.enumerate())
    for _ in range(3):
        with rxxenon.connect(xenon_server.address, options=own) as connection:
            connection.get_scheduler_adaptor_names()  # opens the second channel
            connection.local_scheduler().close()
    assert wait_for(lambda: len(_open_fds()) <= len(fds_before)), _open_fds() - fds_before
    assert wait_for(lambda: set(threading.enumerate()) <= threads_before)


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _blocked_in_grpc(thread: threading.Thread) -> bool:
    """Whether ``thread`` is inside a grpcio blocking unary call: its innermost Python frame
    is the one that waits for the call's events (``_blocking`` in ``grpc/_channel.py``)."""
    frame = sys._current_frames().get(thread.ident or -1)
    code = None if frame is None else frame.f_code
    return (
        code is not None
        and code.co_name == "_blocking"
        and code.co_filename.endswith(os.path.join("grpc", "_channel.py"))
    )
