"""Schedulers: batch and interactive jobs, their statuses, queues."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from reactivex import Observable

from rxxenon._errors import DeadlineExceededError, NoSuchSchedulerError
from rxxenon._filesystems import FileSystem
from rxxenon._handles import ServerObject
from rxxenon._interactive import InteractiveJob
from rxxenon._jobs import Job, JobDescription, JobStatus, QueueStatus
from rxxenon._output import OutputHub
from rxxenon._proto import xenon_pb2 as pb
from rxxenon._rx_grpc import RequestBuffer

if TYPE_CHECKING:
    pass

__all__ = ["Scheduler"]

JobLike = Job | str

#: How long one waitUntil* call of :meth:`Scheduler.status_changes` lasts on the server (ms).
_WATCH_SLICE_MS = 1000


def _job(job: JobLike) -> pb.Job:
    return pb.Job(id=job if isinstance(job, str) else job.id)


def _milliseconds(timeout: float | None) -> int:
    """Seconds (None: no limit) to the servers' milliseconds (0: no limit)."""
    if timeout is None:
        return 0
    return max(int(timeout * 1000), 1)


class Scheduler(ServerObject):
    """An open scheduler on a Xenon server (``local``, ``ssh``, ``slurm``, ...).

    Made by :meth:`Connection.create_scheduler`, :meth:`Connection.local_scheduler` or
    :meth:`Connection.list_schedulers`. A context manager: leaving the block closes it on
    the server (its jobs keep running). Methods block until the server answers, from any
    thread but the connection's event loop (where they raise :class:`~rxxenon.LoopThreadError`),
    and raise typed :class:`~rxxenon.XenonError` subclasses.
    """

    _service = "scheduler"
    _handle_type = pb.Scheduler
    _closed_error = NoSuchSchedulerError

    # --- information -------------------------------------------------------------------------

    def get_queue_names(self) -> list[str]:
        """The scheduler's queues, e.g. ``["single", "multi", "unlimited"]`` on ``local``."""
        return list(self._call("getQueueNames", self._handle).name)

    def get_default_queue_name(self) -> str:
        """The queue used when a job names none."""
        return str(self._call("getDefaultQueueName", self._handle).name)

    def get_default_runtime(self) -> int:
        """The default maximum runtime of a job, in minutes (0: no limit)."""
        return int(self._call("getDefaultRuntime", self._handle).value)

    def get_file_system(self) -> FileSystem:
        """The file system the scheduler uses for job files and relative directories."""
        return FileSystem(self.connection, self._call("getFileSystem", self._handle).id)

    def get_queue_status(self, queue: str) -> QueueStatus:
        """The status of one queue. Raises NoSuchQueueError for an unknown queue."""
        request = pb.GetQueueStatusRequest(scheduler=self._handle, queue=queue)
        return QueueStatus.from_proto(self._call("getQueueStatus", request))

    def get_queue_statuses(self, queues: Iterable[str] = ()) -> list[QueueStatus]:
        """Statuses of the given queues (all when empty); unknown ones carry an error_type."""
        request = pb.SchedulerAndQueues(scheduler=self._handle, queues=list(queues))
        response = self._call("getQueueStatuses", request)
        return [QueueStatus.from_proto(s) for s in response.statuses]

    def get_jobs(self, queues: Iterable[str] = ()) -> list[Job]:
        """The jobs the scheduler knows about in the given queues (all when empty)."""
        request = pb.SchedulerAndQueues(scheduler=self._handle, queues=list(queues))
        return [Job(j.id) for j in self._call("getJobs", request).jobs]

    # --- jobs --------------------------------------------------------------------------------

    def submit_batch_job(self, description: JobDescription) -> Job:
        """Submit a job that runs without this connection; returns at once.

        Start-up failures (missing executable, ...) show in the job's status, not here.

        Raises:
            InvalidJobDescriptionError, NoSuchQueueError, IllegalArgumentError: rejected.
        """
        request = pb.SubmitBatchJobRequest(
            scheduler=self._handle, description=description.to_proto()
        )
        return Job(self._call("submitBatchJob", request).id)

    def submit_interactive_job(
        self,
        description: JobDescription,
        stdin: Observable[bytes] | Observable[str] | Observable[bytes | str] | None = None,
        *,
        timeout: float | None = None,
        keep_limit: int = 4 << 20,
    ) -> InteractiveJob:
        """Start a job whose stdin, stdout and stderr stream over this connection.

        Returns once the job runs: servers queue interactive jobs like batch jobs, so in a
        busy ``single`` queue this waits (use ``queue_name="multi"`` or ``"unlimited"`` on
        ``local`` to run several at once).

        Args:
            description: the job; its stdin/stdout/stderr fields must be empty.
            stdin: an Observable subscribed into the job's stdin (its completion closes
                stdin). Or leave it None and push into :attr:`InteractiveJob.stdin`.
            timeout: seconds to wait for the job to start (None: no limit).
            keep_limit: bytes of each output stream kept for its first subscriber.

        Raises:
            DeadlineExceededError: the job did not start within ``timeout`` (the call is
                cancelled).
            InvalidJobDescriptionError, NoSuchQueueError, InternalError: the server refused
                or failed to start the job.
        """
        self.connection.loop.check_may_block("submit_interactive_job()")
        buffer: RequestBuffer[pb.SubmitInteractiveJobRequest] = RequestBuffer(self.connection.loop)
        buffer.on_next(
            pb.SubmitInteractiveJobRequest(
                scheduler=self._handle, description=description.to_proto()
            )
        )
        stubs = self.connection.stubs
        rx = self.connection.rx
        hub = OutputHub(keep_limit, on_first_subscriber=lambda: pump.resume())
        pump = rx.start(
            rx.bidi_source(lambda: stubs.scheduler.submitInteractiveJob, buffer),
            hub,
            initial_demand=1,
        )
        try:
            job_id = hub.job_id.result(timeout)
        except TimeoutError:
            pump.cancel()
            raise DeadlineExceededError(
                f"the interactive job did not start within {timeout} s"
            ) from None
        except BaseException:
            pump.cancel()
            raise
        job = InteractiveJob(self, Job(job_id), description, buffer, pump, hub)
        if stdin is not None:
            source: Observable[Any] = stdin
            buffer.feed_from(source, job.stdin)
        return job

    def get_job_status(self, job: JobLike) -> JobStatus:
        """The job's status. Xenon servers forget a job once its final status was returned."""
        request = pb.JobRequest(scheduler=self._handle, job=_job(job))
        return JobStatus.from_proto(self._call("getJobStatus", request))

    def get_job_statuses(self, jobs: Iterable[JobLike]) -> list[JobStatus]:
        """Statuses in the order asked; unknown jobs get ``state="UNKNOWN"``."""
        request = pb.GetJobStatusesRequest(scheduler=self._handle, jobs=[_job(j) for j in jobs])
        return [JobStatus.from_proto(s) for s in self._call("getJobStatuses", request).statuses]

    def wait_until_done(self, job: JobLike, timeout: float | None = None) -> JobStatus:
        """Wait until the job is done or ``timeout`` seconds pass (None: no limit).

        Returns the status either way: check :attr:`JobStatus.done`.
        """
        request = pb.WaitRequest(
            scheduler=self._handle, job=_job(job), timeout=_milliseconds(timeout)
        )
        return JobStatus.from_proto(self._call("waitUntilDone", request))

    def wait_until_running(self, job: JobLike, timeout: float | None = None) -> JobStatus:
        """Wait until the job runs (or is done) or ``timeout`` seconds pass (None: no limit)."""
        request = pb.WaitRequest(
            scheduler=self._handle, job=_job(job), timeout=_milliseconds(timeout)
        )
        return JobStatus.from_proto(self._call("waitUntilRunning", request))

    def cancel_job(self, job: JobLike) -> JobStatus:
        """Kill the job; returns its final status (``KILLED`` unless it was done already)."""
        request = pb.JobRequest(scheduler=self._handle, job=_job(job))
        return JobStatus.from_proto(self._call("cancelJob", request))

    def status_changes(self, job: JobLike) -> Observable[JobStatus]:
        """An Observable of the job's status each time it changes, until it is done.

        Emits the current status first, then each new one (``PENDING`` -> ``RUNNING`` ->
        ``DONE``, for example), and completes after the final status. That final status is
        the read that makes a Xenon server forget the job, so take it from here. Errors
        (``NoSuchJobError``, ``UnavailableError``...) arrive on ``on_error``. Cold: each
        subscription watches anew; disposing stops watching (the job is untouched).
        """
        stubs = self.connection.stubs
        handle = self._handle
        job_message = _job(job)

        async def watch() -> AsyncIterator[JobStatus]:
            status = await stubs.scheduler.getJobStatus(
                pb.JobRequest(scheduler=handle, job=job_message)
            )
            last: pb.JobStatus | None = None
            while True:
                if status != last:
                    yield JobStatus.from_proto(status)
                    last = status
                if status.done:
                    return
                wait = (
                    stubs.scheduler.waitUntilDone
                    if status.running
                    else stubs.scheduler.waitUntilRunning
                )
                status = await wait(
                    pb.WaitRequest(scheduler=handle, job=job_message, timeout=_WATCH_SLICE_MS)
                )

        return self.connection.rx.observable(watch)
