"""A ``local`` scheduler: its three queues, its jobs and the rules for reading them.

Queues, per scheduler instance: ``single`` runs one job at a time, ``multi`` four, and
``unlimited`` any number; the rest wait ``PENDING`` in submission order. Interactive jobs are
queued exactly like batch jobs.

Job ids are ``local-N`` with N counting from 0 per scheduler instance. An id is used up by
every job that passed validation, including an interactive job that then failed to start.

A job is **forgotten** once a final status of it has been returned: by ``getJobStatus``,
``getJobStatuses``, ``waitUntilDone``, ``waitUntilRunning`` or ``cancelJob``. After that the
scheduler no longer lists it, and asking for it is ``NoSuchJobException``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

from rxxenon._errors import (
    IllegalArgumentError,
    InvalidJobDescriptionError,
    NoSuchJobError,
    NoSuchQueueError,
)
from rxxenon._proto import xenon_pb2 as pb
from rxxenon.server._jobs import JobSnapshot, JobSpec, LocalJob
from rxxenon.server._registry import FileSystemRecord
from rxxenon.server._runtime import JobRuntime

__all__ = ["QUEUE_NAMES", "LocalScheduler", "QueueState"]

#: The queues of every local scheduler, in the order the real server lists them.
QUEUE_NAMES: tuple[str, ...] = ("single", "multi", "unlimited")
_DEFAULT_QUEUE = "single"
_LIMITS: dict[str, int | None] = {"single": 1, "multi": 4, "unlimited": None}
_ADAPTOR = "local"
#: Seconds cancelJob waits for a killed job to be reaped before it answers anyway.
_CANCEL_PATIENCE = 5.0
#: Timeouts (ms) at or above this are negative as a Java long; they wait without limit here.
_NO_LIMIT_MS = 2**63


class _Queue:
    """One queue: hands out its slots to waiting jobs in submission order."""

    def __init__(self, limit: int | None, runtime: JobRuntime) -> None:
        self._limit = limit
        self._runtime = runtime
        self._waiting: deque[LocalJob] = deque()
        self._active = 0

    def submit(self, job: LocalJob) -> None:
        self._waiting.append(job)
        self._runtime.job_queued(job)
        self._dispatch()

    def _dispatch(self) -> None:
        while self._waiting and not self._runtime.closing:
            if self._limit is not None and self._active >= self._limit:
                return
            job = self._waiting.popleft()
            self._runtime.job_dequeued(job)
            if job.done:  # cancelled while it waited
                continue
            self._active += 1
            self._runtime.start_task(self._run(job), name=f"job {job.id}")

    async def _run(self, job: LocalJob) -> None:
        try:
            await job.run()
        finally:
            self._active -= 1
            self._dispatch()


@dataclass(frozen=True)
class QueueState:
    """A queue status entry: a name and, for a queue that does not exist, the error."""

    name: str
    error_message: str = ""


class LocalScheduler:
    """One open ``local`` scheduler.

    Args:
        scheduler_id: the handle, ``local://<user>@<location>#<hash>``.
        location: the location it was created with (``""`` or an absolute path).
        filesystem: its file system (``getFileSystem``); relative job paths start at its
            first working directory, whatever ``setWorkingDirectory`` does to it later (as
            in xenon-grpc).
        runtime: the server's job runtime.
    """

    adaptor = _ADAPTOR

    def __init__(
        self,
        scheduler_id: str,
        location: str,
        filesystem: FileSystemRecord,
        runtime: JobRuntime,
    ) -> None:
        self.id = scheduler_id
        self.location = location
        self.filesystem = filesystem
        # What the jobs see of the file system: a copy that keeps its first working directory.
        self._job_filesystem = dataclasses.replace(filesystem)
        self._runtime = runtime
        self._queues = {name: _Queue(_LIMITS[name], runtime) for name in QUEUE_NAMES}
        self._jobs: dict[str, LocalJob] = {}  # known jobs, in submission order
        self._next_number = 0

    # Submitting ---------------------------------------------------------------------------

    def submit(self, description: pb.JobDescription, *, interactive: bool) -> LocalJob:
        """Validate ``description``, give the job an id and queue it.

        Raises the validation errors of the real server; those use up no id. Start-up
        failures come later, through the job's status.
        """
        spec = _validate(description, interactive=interactive)
        job = LocalJob(f"local-{self._next_number}", spec, self._job_filesystem, self._runtime)
        self._next_number += 1
        self._jobs[job.id] = job
        self._queues[spec.queue].submit(job)
        return job

    # Reading jobs -------------------------------------------------------------------------

    def job_ids(self, queues: Sequence[str]) -> list[str]:
        """Ids of the jobs still known, by queue (all three if ``queues`` is empty)."""
        for name in queues:
            if name not in self._queues:
                raise NoSuchQueueError.from_adaptor(_ADAPTOR, f'Queue "{name}" does not exist')
        return [
            job.id
            for name in queues or QUEUE_NAMES
            for job in self._jobs.values()
            if job.spec.queue == name
        ]

    def find(self, job_id: str) -> LocalJob:
        """The known job with this id."""
        if not job_id:
            raise IllegalArgumentError.from_message("Job identifier cannot be null or empty")
        try:
            return self._jobs[job_id]
        except KeyError:
            raise NoSuchJobError.from_adaptor(_ADAPTOR, f"Job {job_id} does not exist!") from None

    def read(self, job: LocalJob) -> JobSnapshot:
        """The job's status, returned to a client: a final one makes the scheduler forget it."""
        snapshot = job.snapshot()
        if snapshot.done:
            self.forget(job)
        return snapshot

    def forget(self, job: LocalJob) -> None:
        """Stop knowing ``job`` (it keeps running if it still does)."""
        if self._jobs.get(job.id) is job:
            del self._jobs[job.id]

    def status(self, job_id: str) -> JobSnapshot:
        """``getJobStatus``."""
        return self.read(self.find(job_id))

    def statuses(self, job_ids: Sequence[str]) -> list[JobSnapshot]:
        """``getJobStatuses``: one entry per id, in order; unknown ids get an UNKNOWN entry.

        An empty id fails the whole call before any status is read (so nothing is forgotten).
        """
        if any(not job_id for job_id in job_ids):
            raise IllegalArgumentError.from_message("Job identifier cannot be null or empty")
        result = []
        for job_id in job_ids:
            job = self._jobs.get(job_id)
            result.append(JobSnapshot.unknown(job_id) if job is None else self.read(job))
        return result

    async def wait_until_done(self, job_id: str, timeout_ms: int) -> JobSnapshot:
        """``waitUntilDone``: wait (0 = no limit) until the job is in a final state."""
        job = self.find(job_id)
        await _wait(job.wait_done(), timeout_ms)
        return self.read(job)

    async def wait_until_running(self, job_id: str, timeout_ms: int) -> JobSnapshot:
        """``waitUntilRunning``: wait (0 = no limit) until the job runs or is done."""
        job = self.find(job_id)
        await _wait(job.wait_running(), timeout_ms)
        return self.read(job)

    async def cancel(self, job_id: str) -> JobSnapshot:
        """``cancelJob``: kill the job (its whole process group) and return its final status.

        A queued job is ``KILLED`` at once; a finished one keeps its status.
        """
        job = self.find(job_id)
        job.cancel()
        if not job.done:
            await _wait(job.wait_done(), int(_CANCEL_PATIENCE * 1000))
        return self.read(job)

    # Queues -------------------------------------------------------------------------------

    def queue_state(self, name: str) -> QueueState:
        """``getQueueStatus``."""
        if name not in self._queues:
            raise NoSuchQueueError.from_adaptor(_ADAPTOR, f"No such queue: {name}")
        return QueueState(name)

    def queue_states(self, names: Sequence[str]) -> list[QueueState]:
        """``getQueueStatuses``: unknown queues get an entry with an error, not a failure."""
        return [
            QueueState(name)
            if name in self._queues
            else QueueState(name, f"{_ADAPTOR} adaptor: No such queue: {name}")
            for name in names or QUEUE_NAMES
        ]


async def _wait(condition: Awaitable[None], timeout_ms: int) -> None:
    """Wait for ``condition`` at most ``timeout_ms`` ms (0: no limit); a timeout is no error."""
    if timeout_ms == 0 or timeout_ms >= _NO_LIMIT_MS:
        await condition
        return
    try:
        async with asyncio.timeout(timeout_ms / 1000):
            await condition
    except TimeoutError:
        pass


def _validate(description: pb.JobDescription, *, interactive: bool) -> JobSpec:
    """The real server's submit-time checks, in its order."""
    if any(not argument for argument in description.arguments):
        raise IllegalArgumentError.from_message("Argument may not be null or empty!")
    queue = description.queue_name or _DEFAULT_QUEUE
    if queue not in QUEUE_NAMES:
        raise NoSuchQueueError.from_adaptor(_ADAPTOR, f"Queue {queue} not available locally!")
    if description.tasks > 1:
        raise InvalidJobDescriptionError.from_adaptor(
            _ADAPTOR, f"Unsupported task count: {description.tasks}"
        )
    if description.tasks_per_node > 1:
        raise InvalidJobDescriptionError.from_adaptor(
            _ADAPTOR, f"Unsupported task per node count: {description.tasks_per_node}"
        )
    if interactive:
        for stream in ("stdin", "stdout", "stderr"):
            if getattr(description, stream):
                raise InvalidJobDescriptionError.from_adaptor(
                    _ADAPTOR, f"Illegal {stream} redirect for interactive job!"
                )
    return JobSpec(
        executable=description.executable,
        arguments=tuple(description.arguments),
        working_directory=description.working_directory,
        environment=dict(description.environment),
        stdin=description.stdin,
        stdout=description.stdout,
        stderr=description.stderr,
        name=description.name,
        max_runtime=description.max_runtime,
        queue=queue,
        interactive=interactive,
    )
