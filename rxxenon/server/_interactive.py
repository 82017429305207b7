"""``submitInteractiveJob``: one job's stdin, stdout and stderr over one bidirectional call.

The call, as the real server makes it:

* The first request names the scheduler and the job (and may carry stdin). The job is queued
  like a batch job; validation errors end the call before any response; a job that fails to
  start ends it with ``INTERNAL "...XenonException: local adaptor: Interactive job failed to
  start!"`` (its id is used up).
* The first response, carrying only the job id, is sent once the job is ``RUNNING``. Each
  later response carries the id and exactly one of stdout or stderr.
* Later requests' stdin is written to the job at once; a client half-close closes the job's
  stdin. The call ends with OK once both stdout and stderr reached end of file.

Where this server departs from the real one (docs/embedded-server.md has the table):

* Backpressure: each piece of output is written with ``await context.write()``, under one
  lock shared by stdout and stderr, so a slow client slows the job down through the pipe
  instead of the server buffering without bound; pieces are up to 128 KiB, not 1 KiB.
* Client gone (cancel, disconnect): the job's stdin is closed and its output is read and
  dropped, so it runs to its end without blocking on a full pipe. It is not killed, and its
  status stays readable.
* A client that half-closes without sending any request gets ``INVALID_ARGUMENT`` at once
  (the real server never answers and the call hangs until its deadline).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import grpc

from rxxenon._errors import AdaptorError, InvalidArgumentError
from rxxenon._proto import xenon_pb2 as pb
from rxxenon.server._jobs import LocalJob
from rxxenon.server._registry import Registry

__all__ = ["InteractiveContext", "run_interactive_call"]

InteractiveContext = grpc.aio.ServicerContext[
    pb.SubmitInteractiveJobRequest, pb.SubmitInteractiveJobResponse
]

_EOF: Any = grpc.aio.EOF  # type: ignore[attr-defined]  # missing from grpc-stubs


async def run_interactive_call(registry: Registry, context: InteractiveContext) -> None:
    """Serve one ``submitInteractiveJob`` call from its first request to its end."""
    first = await context.read()
    if first is _EOF:
        raise InvalidArgumentError(
            "submitInteractiveJob: the client closed the request stream before sending the "
            "first request (scheduler and job description)"
        )
    scheduler = registry.scheduler(first.scheduler.id)
    job = scheduler.submit(first.description, interactive=True)
    call = _Call(context, job)
    job.attach(call)
    stdin_task: asyncio.Task[None] | None = None
    try:
        if not await job.wait_started():
            scheduler.forget(job)
            raise AdaptorError.from_adaptor("local", "Interactive job failed to start!")
        if not await call.send_first():
            return
        stdin_task = asyncio.create_task(call.feed_stdin(first.stdin), name=f"{job.id} stdin")
        await job.output_closed.wait()
    finally:
        if stdin_task is not None:
            stdin_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stdin_task
        call.close()
        job.detach()  # after the end of its output this only lets go of the call


class _Call:
    """The call side of an interactive job: the :class:`~rxxenon.server._jobs.OutputSink`."""

    def __init__(self, context: InteractiveContext, job: LocalJob) -> None:
        self._context = context
        self._job = job
        self._job_message = pb.Job(id=job.id)  # repeated in every response
        self._lock = asyncio.Lock()  # one write at a time, stdout and stderr alike
        self._first_sent = asyncio.Event()
        self._closed = False

    async def send_first(self) -> bool:
        """Send the first response (the job id only); False if the client is gone."""
        try:
            return await self._write(pb.SubmitInteractiveJobResponse(job=self._job_message))
        finally:
            self._first_sent.set()

    async def deliver(self, stream: str, data: bytes) -> bool:
        """Send one piece of output, waiting for gRPC flow control; False if the client is gone."""
        await self._first_sent.wait()
        return await self._write(
            pb.SubmitInteractiveJobResponse(job=self._job_message, **{stream: data})
        )

    async def _write(self, response: pb.SubmitInteractiveJobResponse) -> bool:
        async with self._lock:
            if self._closed:
                return False
            try:
                await self._context.write(response)
            except Exception:  # the call is over (cancelled, deadline, connection lost)
                self._closed = True
                return False
            return True

    async def feed_stdin(self, first: bytes) -> None:
        """Write the first request's stdin, then every later request's, until half-close."""
        await self._job.write_stdin(first)
        while True:
            try:
                request = await self._context.read()
            except Exception:  # the call broke: same as the client going away
                request = _EOF
            if request is _EOF:
                self._job.close_stdin()
                return
            await self._job.write_stdin(request.stdin)

    def close(self) -> None:
        """The call is over: no more writes (output still arriving is dropped by the job)."""
        self._closed = True
        self._first_sent.set()
