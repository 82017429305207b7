"""One local job: its state machine, its process and, for interactive jobs, its pipes.

States follow the real server: ``PENDING`` (queued) → ``RUNNING`` → ``DONE`` (the process
exited; ``exit_code`` is its status, 128+N when a signal N ended it), or ``KILLED``
(``cancelJob``, ``max_runtime`` or server stop), or ``ERROR`` (it could not start).
A job never leaves a final state. Waiting is event-driven: no polling.

A job does not know about gRPC. An interactive job's output goes to whatever
:class:`OutputSink` is attached (the call streaming it); with none attached (the client went
away) it is read and dropped, so the job never blocks on a full pipe and runs to its end.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from rxxenon._proto import xenon_pb2 as pb
from rxxenon.server._process import (
    READ_SIZE,
    StdinPipe,
    kill_group,
    open_output_pipe,
    open_stdin_pipe,
    resolve_executable,
    spawn,
)
from rxxenon.server._registry import FileSystemRecord

if TYPE_CHECKING:
    from rxxenon.server._runtime import JobRuntime

__all__ = [
    "DONE",
    "ERROR",
    "KILLED",
    "PENDING",
    "RUNNING",
    "JobSnapshot",
    "JobSpec",
    "LocalJob",
    "OutputSink",
]

logger = logging.getLogger("rxxenon.server")

PENDING = "PENDING"
RUNNING = "RUNNING"
DONE = "DONE"
KILLED = "KILLED"
ERROR = "ERROR"
_FINAL = frozenset({DONE, KILLED, ERROR})

_ErrorType = pb.JobStatus.ErrorType
_ADAPTOR = "local adaptor: "
_CANCELLED = "Process cancelled by user."
_TIMED_OUT = "Process timed out."


@dataclass(frozen=True)
class JobSpec:
    """A validated job description, as submitted (paths not yet resolved).

    Attributes:
        executable: program name or path (``""`` fails at start, as in the real server).
        arguments: the arguments, passed verbatim.
        working_directory: as given; relative to the scheduler's file-system working directory.
        environment: variables added on top of the server's environment.
        stdin: file to read stdin from (batch only; ``""``: none, the job sees end of file).
        stdout: file to create for stdout (batch only; ``""``: output discarded).
        stderr: file to create for stderr (batch only; ``""``: output discarded).
        name: echoed in every status.
        max_runtime: minutes before the job is killed; 0 = no limit.
        queue: ``single``, ``multi`` or ``unlimited``.
        interactive: whether stdio are streamed over a call instead.
    """

    executable: str
    arguments: tuple[str, ...]
    working_directory: str
    environment: Mapping[str, str]
    stdin: str
    stdout: str
    stderr: str
    name: str
    max_runtime: int
    queue: str
    interactive: bool


@dataclass(frozen=True)
class JobSnapshot:
    """A job's status at one moment (what ``JobStatus`` carries)."""

    job_id: str
    name: str
    state: str
    exit_code: int = 0
    error_type: _ErrorType.ValueType = _ErrorType.NONE
    error_message: str = ""

    @property
    def running(self) -> bool:
        """Whether the state is ``RUNNING``."""
        return self.state == RUNNING

    @property
    def done(self) -> bool:
        """Whether the state is final (``DONE``, ``KILLED`` or ``ERROR``)."""
        return self.state in _FINAL

    @classmethod
    def unknown(cls, job_id: str) -> JobSnapshot:
        """The entry ``getJobStatuses`` gives for an id the scheduler does not know."""
        return cls(
            job_id=job_id,
            name="",
            state="UNKNOWN",
            error_type=_ErrorType.NOT_FOUND,
            error_message=f"{_ADAPTOR}Job {job_id} does not exist!",
        )


class OutputSink(Protocol):
    """Where an interactive job's output goes: the call that streams it."""

    async def deliver(self, stream: str, data: bytes) -> bool:
        """Send one piece of ``stream`` (``"stdout"``/``"stderr"``); False if the sink is gone."""
        ...


class _StartError(Exception):
    """The job could not be started; the message is its status's ``error_message``."""


class LocalJob:
    """One job of a local scheduler, from submit to its final state.

    Args:
        job_id: ``local-N``.
        spec: what to run.
        filesystem: the scheduler's file system; relative paths start at its working directory.
        runtime: the server's job runtime.
    """

    def __init__(
        self, job_id: str, spec: JobSpec, filesystem: FileSystemRecord, runtime: JobRuntime
    ) -> None:
        self.id = job_id
        self.spec = spec
        self._filesystem = filesystem
        self._runtime = runtime
        self._state = PENDING
        self._exit_code = 0
        self._error_type: _ErrorType.ValueType = _ErrorType.NONE
        self._error_message = ""
        self._has_run = False
        self._starting = False
        self._kill_reason: str | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._left_pending = asyncio.Event()
        self._done = asyncio.Event()
        # Interactive jobs only.
        self._stdin: StdinPipe | None = None
        self._sink: OutputSink | None = None
        self._detached = False
        self._open_outputs = 0
        self._output_transports: list[asyncio.ReadTransport] = []
        self.output_closed = asyncio.Event()
        """Set once both stdout and stderr reached end of file (or the job never ran)."""

    # Status -------------------------------------------------------------------------------

    def snapshot(self) -> JobSnapshot:
        """The job's status now."""
        return JobSnapshot(
            job_id=self.id,
            name=self.spec.name,
            state=self._state,
            exit_code=self._exit_code,
            error_type=self._error_type,
            error_message=self._error_message,
        )

    @property
    def done(self) -> bool:
        """Whether the job reached a final state."""
        return self._state in _FINAL

    @property
    def pgid(self) -> int | None:
        """The job's process group (its first process's pid), once it was started."""
        return None if self._process is None else self._process.pid

    async def wait_done(self) -> None:
        """Return once the job is in a final state."""
        await self._done.wait()

    async def wait_running(self) -> None:
        """Return once the job left ``PENDING`` (it runs, or it is already done)."""
        await self._left_pending.wait()

    async def wait_started(self) -> bool:
        """Wait until the job leaves ``PENDING``; whether its process was started."""
        await self._left_pending.wait()
        return self._has_run

    def _set_final(
        self,
        state: str,
        *,
        exit_code: int = 0,
        error_type: _ErrorType.ValueType = _ErrorType.NONE,
        message: str = "",
    ) -> None:
        self._state = state
        self._exit_code = exit_code
        self._error_type = error_type
        self._error_message = message
        self._left_pending.set()
        self._done.set()
        if not self._has_run:
            self.output_closed.set()

    # Running ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Start the job, wait for its process to exit and record the outcome.

        Called by the job's queue once it has a slot for it; the slot is held until this
        returns. Never raises for anything the job does; should this server fail here, the
        job ends in ``ERROR`` (so that nobody waits for it forever) and the error is raised.
        """
        try:
            await self._run()
        except Exception as error:
            if not self.done:
                message = f"{_ADAPTOR}Internal error: {type(error).__name__}: {error}"
                self._set_final(ERROR, error_type=_ErrorType.XENON, message=message)
            raise

    async def _run(self) -> None:
        if self.done or self._runtime.closing:  # cancelled while it waited for the slot
            return
        self._runtime.job_started(self)
        self._starting = True
        try:
            process = await (
                self._start_interactive() if self.spec.interactive else self._start_batch()
            )
        except _StartError as error:
            self._set_final(ERROR, error_type=_ErrorType.XENON, message=str(error))
            self._runtime.job_ended(self, None)
            return
        finally:
            self._starting = False
        self._process = process
        self._has_run = True
        self._state = RUNNING
        self._left_pending.set()
        if self._kill_reason is not None:  # killed while it was being started
            kill_group(process.pid)
        timer = self._start_timer()
        try:
            returncode = await process.wait()
        finally:
            if timer is not None:
                timer.cancel()
        if self._kill_reason is not None:
            self._set_final(
                KILLED, error_type=_ErrorType.CANCELLED, message=_ADAPTOR + self._kill_reason
            )
        else:
            exit_code = returncode if returncode >= 0 else 128 - returncode
            self._set_final(DONE, exit_code=exit_code)
        if self._open_outputs == 0:
            self._runtime.job_ended(self, process.pid)

    def _start_timer(self) -> asyncio.TimerHandle | None:
        if not self.spec.max_runtime:
            return None
        delay = self.spec.max_runtime * self._runtime.seconds_per_minute
        return asyncio.get_running_loop().call_later(delay, self.kill, _TIMED_OUT)

    def kill(self, reason: str) -> None:
        """Kill the job's whole process group; it ends ``KILLED`` with ``reason``.

        A queued job is ``KILLED`` at once; a finished one is left as it is.
        """
        if self.done:
            return
        if self._kill_reason is None:
            self._kill_reason = reason
        if self._process is None:
            if not self._starting:
                self._set_final(KILLED, error_type=_ErrorType.CANCELLED, message=_ADAPTOR + reason)
            return
        if self._process.returncode is None:
            kill_group(self._process.pid)

    def cancel(self) -> None:
        """``cancelJob``: kill the job as cancelled by the user."""
        self.kill(_CANCELLED)

    def _working_directory(self) -> str:
        base = self._filesystem.working_directory
        return os.path.normpath(os.path.join(base, self.spec.working_directory))

    def _environment(self) -> dict[str, str]:
        return {**os.environ, **self.spec.environment}

    async def _start_batch(self) -> asyncio.subprocess.Process:
        spec = self.spec
        workdir = self._working_directory()
        stdin, stdout, stderr, opened = self._open_batch_stdio(workdir)
        try:
            executable = resolve_executable(spec.executable)
            if executable is None:
                raise _StartError(_ADAPTOR + "Failed to start local process!")
            try:
                return await spawn(
                    executable,
                    spec.executable,
                    spec.arguments,
                    cwd=workdir,
                    env=self._environment(),
                    stdin=stdin,
                    stdout=stdout,
                    stderr=stderr,
                )
            except (OSError, ValueError, subprocess.SubprocessError):
                raise _StartError(_ADAPTOR + "Failed to start local process!") from None
        finally:
            for fd in opened:
                os.close(fd)

    def _open_batch_stdio(self, workdir: str) -> tuple[int, int, int, list[int]]:
        """Check the working directory and open the stdio files, in the real server's order.

        Returns stdin, stdout and stderr for the child and the descriptors to close after.
        An output file is created even if the job then fails to start, as in the real server.
        """
        if not os.path.exists(workdir):
            raise _StartError(_ADAPTOR + "Error starting job.")
        opened: list[int] = []
        try:
            stdin = subprocess.DEVNULL
            if self.spec.stdin:
                try:
                    stdin = os.open(os.path.join(workdir, self.spec.stdin), os.O_RDONLY)
                except OSError:
                    raise _StartError(_ADAPTOR + "Error starting job.") from None
                opened.append(stdin)
            stdout = self._create_output(workdir, self.spec.stdout, opened)
            stderr = self._create_output(workdir, self.spec.stderr, opened)
        except BaseException:
            for fd in opened:
                os.close(fd)
            raise
        return stdin, stdout, stderr, opened

    @staticmethod
    def _create_output(workdir: str, name: str, opened: list[int]) -> int:
        """Create a job's stdout or stderr file; it must not exist (not even ``/dev/null``)."""
        if not name:
            return subprocess.DEVNULL
        path = os.path.normpath(os.path.join(workdir, name))
        if os.path.lexists(path):
            raise _StartError(f"file adaptor: File already exists: {path}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            raise _StartError(f"file adaptor: File already exists: {path}") from None
        except OSError:
            raise _StartError("file adaptor: Failed to create OutputStream.") from None
        opened.append(fd)
        return fd

    async def _start_interactive(self) -> asyncio.subprocess.Process:
        spec = self.spec
        executable = resolve_executable(spec.executable)
        if executable is None:
            raise _StartError(_ADAPTOR + "Failed to start local process!")
        child_ends: list[int] = []
        cleanup: list[Callable[[], None]] = []
        try:
            stdin, stdin_fd = await open_stdin_pipe()
            cleanup.append(stdin.abort)
            child_ends.append(stdin_fd)
            out, out_transport, out_fd = await open_output_pipe()
            cleanup.append(out_transport.close)
            child_ends.append(out_fd)
            err, err_transport, err_fd = await open_output_pipe()
            cleanup.append(err_transport.close)
            child_ends.append(err_fd)
            process = await spawn(
                executable,
                spec.executable,
                spec.arguments,
                cwd=self._working_directory(),
                env=self._environment(),
                stdin=stdin_fd,
                stdout=out_fd,
                stderr=err_fd,
            )
        except BaseException as error:
            for close in cleanup:
                close()
            if isinstance(error, (OSError, ValueError, subprocess.SubprocessError)):
                raise _StartError(_ADAPTOR + "Failed to start local process!") from None
            raise
        finally:
            for fd in child_ends:
                os.close(fd)
        self._stdin = stdin
        if self._detached:
            stdin.close()
        self._output_transports = [out_transport, err_transport]
        self._open_outputs = 2
        self._runtime.start_task(self._pump("stdout", out, process.pid), f"{self.id} stdout")
        self._runtime.start_task(self._pump("stderr", err, process.pid), f"{self.id} stderr")
        return process

    # Interactive streams ------------------------------------------------------------------

    def attach(self, sink: OutputSink) -> None:
        """Send the job's output to ``sink`` from now on."""
        self._sink = sink

    def detach(self) -> None:
        """The call is gone: close the job's stdin and drop its output from now on.

        The job is not killed; it runs to its end and its status stays readable.
        """
        self._sink = None
        self._detached = True
        self.close_stdin()

    async def write_stdin(self, data: bytes) -> None:
        """Write to the job's stdin and wait until the pipe took it (dropped if it is closed)."""
        if self._stdin is not None:
            await self._stdin.write(data)

    def close_stdin(self) -> None:
        """Close the job's stdin once what was written has gone: the job sees end of file."""
        if self._stdin is not None:
            self._stdin.close()

    def close_output(self) -> None:
        """Stop reading the job's output pipes (server stop, for pipes held outside the group)."""
        for transport in self._output_transports:
            transport.close()

    async def _pump(self, stream: str, reader: asyncio.StreamReader, pgid: int) -> None:
        try:
            while data := await reader.read(READ_SIZE):
                sink = self._sink
                if sink is not None and not await sink.deliver(stream, data):
                    self.detach()
        except (OSError, ValueError) as error:  # a pipe failed: end this stream
            logger.warning("%s: reading %s failed: %s", self.id, stream, error)
        finally:
            self._open_outputs -= 1
            if self._open_outputs == 0:
                self.output_closed.set()
                if self.done:
                    self._runtime.job_ended(self, pgid)
                self.close_stdin()
