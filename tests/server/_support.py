"""Helpers for the server tests: a scheduler client over raw stubs, interactive calls, polling.

Everything here speaks the wire protocol only, so the tests state what any Xenon gRPC server
(the embedded one, or xenon-grpc 3.0.1) does.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from tests.benchmarks.clients._common import JAVA_TABLE_RACES

__all__ = [
    "CALL_TIMEOUT",
    "InteractiveCall",
    "SchedulerClient",
    "poll_until",
    "process_gone",
    "read_pid",
    "rpc_error",
]

#: Deadline (s) of every call a test makes, so that a server that hangs fails the test.
CALL_TIMEOUT = 30.0

T = TypeVar("T")


@contextlib.contextmanager
def rpc_error(code: grpc.StatusCode, details: str) -> Iterator[None]:
    """Expect the block to fail with exactly this gRPC status code and details string."""
    with pytest.raises(grpc.RpcError) as info:
        yield
    error: Any = info.value
    assert (error.code(), error.details()) == (code, details)


def _is_java_table_race(error: grpc.RpcError) -> bool:
    if not isinstance(error, grpc.Call):
        return False
    details = error.details() or ""
    return error.code() == grpc.StatusCode.INTERNAL and any(r in details for r in JAVA_TABLE_RACES)


def poll_until(condition: Callable[[], T], timeout: float = 10.0, what: str = "") -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or condition}")
        time.sleep(0.01)  # polling interval, not synchronisation


def read_pid(path: os.PathLike[str] | str, timeout: float = 10.0) -> int:
    """The pid a job wrote to ``path`` (waits until the file has a whole line)."""

    def pid() -> int | None:
        with contextlib.suppress(FileNotFoundError):
            with open(path) as file:
                text = file.read()
            if text.endswith("\n"):
                return int(text)
        return None

    return poll_until(pid, timeout, f"a pid in {path}")


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` no longer runs (gone, or a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            state = file.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


class SchedulerClient:
    """One scheduler, over raw stubs, with the calls the tests use most.

    Args:
        stub: the SchedulerService stub.
        scheduler: the scheduler handle.
    """

    def __init__(self, stub: pb_grpc.SchedulerServiceStub, scheduler: pb.Scheduler) -> None:
        self.stub = stub
        self.scheduler = scheduler
        self._calls: list[InteractiveCall] = []

    def description(self, executable: str, *arguments: str, **fields: Any) -> pb.JobDescription:
        """A job description."""
        return pb.JobDescription(executable=executable, arguments=list(arguments), **fields)

    def submit(self, executable: str, *arguments: str, **fields: Any) -> str:
        """Submit a batch job; its id."""
        request = pb.SubmitBatchJobRequest(
            scheduler=self.scheduler, description=self.description(executable, *arguments, **fields)
        )
        return self.stub.submitBatchJob(request, timeout=CALL_TIMEOUT).id

    def sleeper(self, queue_name: str = "", seconds: int = 60) -> str:
        """Submit a ``sleep`` batch job (cleaned up by the fixture)."""
        return self.submit("sleep", str(seconds), queue_name=queue_name)

    def _job(self, job_id: str) -> pb.JobRequest:
        return pb.JobRequest(scheduler=self.scheduler, job=pb.Job(id=job_id))

    def status(self, job_id: str) -> pb.JobStatus:
        """getJobStatus."""
        return self.stub.getJobStatus(self._job(job_id), timeout=CALL_TIMEOUT)

    def statuses(self, *job_ids: str) -> list[pb.JobStatus]:
        """getJobStatuses."""
        request = pb.GetJobStatusesRequest(
            scheduler=self.scheduler, jobs=[pb.Job(id=job_id) for job_id in job_ids]
        )
        return list(self.stub.getJobStatuses(request, timeout=CALL_TIMEOUT).statuses)

    def wait_done(self, job_id: str, timeout_ms: int = 0) -> pb.JobStatus:
        """waitUntilDone."""
        request = pb.WaitRequest(
            scheduler=self.scheduler, job=pb.Job(id=job_id), timeout=timeout_ms
        )
        return self.stub.waitUntilDone(request, timeout=CALL_TIMEOUT)

    def wait_running(self, job_id: str, timeout_ms: int = 0) -> pb.JobStatus:
        """waitUntilRunning."""
        request = pb.WaitRequest(
            scheduler=self.scheduler, job=pb.Job(id=job_id), timeout=timeout_ms
        )
        return self.stub.waitUntilRunning(request, timeout=CALL_TIMEOUT)

    def cancel(self, job_id: str) -> pb.JobStatus:
        """cancelJob."""
        return self.stub.cancelJob(self._job(job_id), timeout=CALL_TIMEOUT)

    def jobs(self, *queues: str) -> list[str]:
        """getJobs; asked again if xenon-grpc's job table raced with a submit (a read-only
        call, so a repeat is safe; docs/embedded-server.md, departure 12)."""
        request = pb.SchedulerAndQueues(scheduler=self.scheduler, queues=list(queues))
        for attempt in range(3):
            try:
                return [job.id for job in self.stub.getJobs(request, timeout=CALL_TIMEOUT).jobs]
            except grpc.RpcError as error:
                if attempt == 2 or not _is_java_table_race(error):
                    raise
        raise AssertionError("unreachable")

    def run(self, executable: str, *arguments: str, **fields: Any) -> pb.JobStatus:
        """Submit a batch job and wait until it is done; its final status."""
        return self.wait_done(self.submit(executable, *arguments, **fields))

    def interactive(
        self, executable: str, *arguments: str, stdin: bytes = b"", **fields: Any
    ) -> InteractiveCall:
        """Start an interactive job (cancelled by the fixture if still open)."""
        first = pb.SubmitInteractiveJobRequest(
            scheduler=self.scheduler,
            description=self.description(executable, *arguments, **fields),
            stdin=stdin,
        )
        call = InteractiveCall(self.stub, first)
        self._calls.append(call)
        return call

    def cleanup(self) -> None:
        """Cancel open interactive calls and every job the scheduler still knows; close it."""
        for call in self._calls:
            call.close()
        with contextlib.suppress(grpc.RpcError):
            for job_id in self.jobs():
                with contextlib.suppress(grpc.RpcError):
                    self.cancel(job_id)
        with contextlib.suppress(grpc.RpcError):
            self.stub.close(self.scheduler, timeout=CALL_TIMEOUT)


_CLOSE = object()


class InteractiveCall:
    """A ``submitInteractiveJob`` call driven from the test: send stdin, read responses.

    Args:
        stub: the SchedulerService stub.
        first: the first request (scheduler, description, optional stdin); ``None`` sends no
            request at all and half-closes at once.
    """

    def __init__(
        self,
        stub: pb_grpc.SchedulerServiceStub,
        first: pb.SubmitInteractiveJobRequest | None,
        timeout: float = CALL_TIMEOUT,
    ) -> None:
        self._requests: queue.Queue[Any] = queue.Queue()
        self._over = threading.Event()
        if first is None:
            self._requests.put(_CLOSE)
        else:
            self._requests.put(first)
        self.call: Any = stub.submitInteractiveJob(self._request_iterator(), timeout=timeout)

    def _request_iterator(self) -> Iterator[pb.SubmitInteractiveJobRequest]:
        # Runs on grpc's request thread; it ends with the call, however the call ends.
        while not self._over.is_set() and not (hasattr(self, "call") and self.call.done()):
            try:
                item = self._requests.get(timeout=0.05)
            except queue.Empty:
                continue
            if item is _CLOSE:
                return
            yield item

    def send(self, data: bytes, **fields: Any) -> None:
        """Send a request with ``stdin=data``."""
        self._requests.put(pb.SubmitInteractiveJobRequest(stdin=data, **fields))

    def close_stdin(self) -> None:
        """Half-close the request stream."""
        self._requests.put(_CLOSE)

    def next(self) -> pb.SubmitInteractiveJobResponse:
        """The next response (blocks)."""
        response: pb.SubmitInteractiveJobResponse = next(self.call)
        return response

    def first(self) -> str:
        """Read the first response, check it carries only the job id, and return the id."""
        response = self.next()
        assert response.job.id
        assert (response.stdout, response.stderr) == (b"", b"")
        return response.job.id

    def read_to_end(self) -> tuple[bytes, bytes, list[pb.SubmitInteractiveJobResponse]]:
        """Read every remaining response: (stdout, stderr, responses)."""
        responses = list(self.call)
        stdout = b"".join(r.stdout for r in responses)
        stderr = b"".join(r.stderr for r in responses)
        return stdout, stderr, responses

    def cancel(self) -> None:
        """Cancel the call from the client side."""
        self.call.cancel()
        self._over.set()

    def close(self) -> None:
        """End the call if it is still open (test cleanup)."""
        self._over.set()
        self.call.cancel()
