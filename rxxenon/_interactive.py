"""Interactive jobs: an Observer for stdin, Observables of stdout/stderr events."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from reactivex import Observable, abc

from rxxenon._errors import DeadlineExceededError
from rxxenon._jobs import Job, JobDescription, JobStatus
from rxxenon._output import BOTH, STDERR, STDOUT, OutputEvent, OutputHub, data_of, event_of
from rxxenon._proto import xenon_pb2 as pb
from rxxenon._rx_grpc import Pump, RequestBuffer, pieces

if TYPE_CHECKING:
    from rxxenon._schedulers import Scheduler

__all__ = ["InteractiveJob", "JobStdin"]


class JobStdin(abc.ObserverBase[bytes | str]):
    """The job's standard input, as an Observer. Safe to call from any thread.

    * ``on_next(data)`` sends bytes (``str`` is encoded as UTF-8). It waits while the stdin
      buffer is full (16 messages of at most 1 MiB), which paces a producer to the job; inside
      the connection's event loop it raises :class:`~rxxenon.StdinBufferFullError` instead.
      Data sent after the job's call has ended is dropped.
    * ``on_completed()`` closes the job's stdin (the job reads end-of-file) once the data
      before it has been written.
    * ``on_error(error)`` cancels the job's call: the output Observables receive ``error``.
      The job itself is not killed (use :meth:`InteractiveJob.cancel` for that).
    """

    def __init__(self, buffer: RequestBuffer[pb.SubmitInteractiveJobRequest]) -> None:
        self._buffer = buffer

    def on_next(self, value: bytes | str) -> None:
        data = value.encode() if isinstance(value, str) else bytes(value)
        for piece in pieces(data):
            self._buffer.on_next(pb.SubmitInteractiveJobRequest(stdin=piece))

    def on_error(self, error: Exception) -> None:
        self._buffer.on_error(error)

    def on_completed(self) -> None:
        self._buffer.on_completed()


class InteractiveJob:
    """A running job whose stdin, stdout and stderr stream over one call.

    Made by :meth:`Scheduler.submit_interactive_job`, once the job runs.

    Attributes:
        job: the job handle (its id).
        description: what was submitted.
        stdin: an Observer of bytes/str: :class:`JobStdin`.
        output: a hot Observable of :class:`Stdout` / :class:`Stderr` events, in the order
            the server sent them. It completes when the job's output ends (both pipes
            closed), and fails with a typed :class:`~rxxenon.XenonError` when the connection
            does (``UnavailableError``: the server is gone). Subscribers get the events that
            arrive after they subscribe, plus those that no earlier subscriber received
            (see below). Disposing a subscription stops that subscriber only.
        stdout: the same, as ``bytes`` of stdout only.
        stderr: the same, as ``bytes`` of stderr only.

    Nothing is read from the job until the first subscription (or :meth:`wait`), so no
    output is lost before you subscribe. Output of a stream nobody has subscribed to yet is
    kept for its first subscriber, up to ``keep_limit`` bytes per stream; so ``stdout``
    and ``stderr`` subscribed one after the other both get everything. Past that limit the
    oldest unclaimed bytes are dropped (a job is never blocked by output nobody reads) and a
    later subscriber of that stream gets :class:`~rxxenon.OutputDiscardedError`.

    A slow subscriber slows the job (the embedded server pauses reading its pipe) instead of
    growing memory. Observers are called one notification at a time and in order: on the
    connection's event-loop thread, just before its loop waits, while they are quick,
    on its delivery threads once they blocked or were slow repeatedly (inside the loop with
    ``delivery_threads=0``, where they must not block); move work elsewhere with
    ``observe_on``.

    Ending it:

    * :meth:`wait` - the job ends by itself (typically after ``stdin.on_completed()``).
    * :meth:`cancel` - kill the job now. The output completes.
    * :meth:`detach` - stop streaming but leave the job running (its output is then drained
      and dropped by the server). Use it when the job should outlive your interest in it.
    * ``with job:`` - cancels the job on exit unless it has ended.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        job: Job,
        description: JobDescription,
        buffer: RequestBuffer[pb.SubmitInteractiveJobRequest],
        pump: Pump[pb.SubmitInteractiveJobResponse],
        hub: OutputHub,
    ) -> None:
        self.job = job
        self.description = description
        self.scheduler = scheduler
        self.stdin = JobStdin(buffer)
        self._pump = pump
        self._hub = hub
        self._final: JobStatus | None = None
        self._final_lock = threading.Lock()
        self.output: Observable[OutputEvent] = hub.view(BOTH, event_of)
        self.stdout: Observable[bytes] = hub.view(STDOUT, data_of)
        self.stderr: Observable[bytes] = hub.view(STDERR, data_of)

    @property
    def id(self) -> str:
        """The job id, e.g. ``local-3``."""
        return self.job.id

    def __repr__(self) -> str:
        return f"<InteractiveJob {self.job.id} on {self.scheduler.id}>"

    def __enter__(self) -> InteractiveJob:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._hub.ended.is_set():
            self.cancel()

    def send(self, data: bytes | str) -> None:
        """Shorthand for ``stdin.on_next(data)``."""
        self.stdin.on_next(data)

    def close_stdin(self) -> None:
        """Shorthand for ``stdin.on_completed()``: the job reads end-of-file."""
        self.stdin.on_completed()

    def wait(self, timeout: float | None = None) -> JobStatus:
        """Wait until the job's output has ended and the job is done; return its final status.

        Starts reading the output if nobody has subscribed (it is kept up to
        ``keep_limit`` per stream for later subscribers, then dropped). Calling it again
        returns the same status.

        Raises:
            DeadlineExceededError: the job is not done within ``timeout`` seconds.
            LoopThreadError: called on the connection's event-loop thread.
        """
        self.scheduler.connection.loop.check_may_block("InteractiveJob.wait()")
        deadline = None if timeout is None else time.monotonic() + timeout
        self._pump.resume()
        if not self._hub.ended.wait(timeout):
            raise DeadlineExceededError(f"job {self.job.id} has not ended after {timeout} s")
        with self._final_lock:
            if self._final is None:
                remaining = None if deadline is None else max(deadline - time.monotonic(), 0.001)
                status = self.scheduler.wait_until_done(self.job, remaining)
                if not status.done:
                    raise DeadlineExceededError(
                        f"job {self.job.id} is still {status.state} after {timeout} s"
                    )
                self._final = status
            return self._final

    def cancel(self) -> JobStatus:
        """Kill the job (``cancelJob``) and return its final status; the output completes.

        Calling it again, or after :meth:`wait`, returns the same final status.
        """
        with self._final_lock:
            if self._final is None:
                self._final = self.scheduler.cancel_job(self.job)
            return self._final

    def detach(self) -> None:
        """Stop streaming: cancel the call, complete the output; the job keeps running.

        Its status stays readable with :meth:`Scheduler.get_job_status`. Idempotent.
        """
        self._pump.cancel()
        self._hub.end()
