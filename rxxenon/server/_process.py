"""Job processes: executable lookup, spawning, pipes and process groups.

Jobs are started with :func:`asyncio.create_subprocess_exec` in a new session, so that a
job and everything it starts form one process group that :func:`kill_group` can kill. The
job's stdio are plain file descriptors (files, ``/dev/null`` or pipes made here), never
asyncio's own pipes: that way ``Process.wait()`` returns when the process exits, not when the
last holder of its pipes (a background grandchild, say) closes them, which is when a job's
state must turn ``DONE``.

Pipes are read in pieces of :data:`READ_SIZE` bytes, each of which becomes one gRPC message:
gRPC in Python costs about 50 µs of CPU per message on each side, so 1 KiB pieces (the Java
server's) cap a stream at ~16 MB/s while 128 KiB pieces reach hundreds of MB/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Mapping, Sequence

__all__ = [
    "READ_SIZE",
    "STREAM_LIMIT",
    "StdinPipe",
    "kill_group",
    "open_output_pipe",
    "open_stdin_pipe",
    "resolve_executable",
    "spawn",
]

#: Bytes asked for per read of a job's stdout or stderr pipe (one gRPC message at most).
READ_SIZE = 128 * 1024
#: The StreamReader limit: it buffers up to twice this before it stops reading the pipe.
STREAM_LIMIT = 2 * READ_SIZE


def resolve_executable(executable: str) -> str | None:
    """The program to run for ``executable``, or ``None`` if there is none.

    A name without a slash is looked up on the **server's** PATH (not the job's), as Java's
    ProcessBuilder does; a path with a slash is used as given (relative to the job's working
    directory, since the child changes directory before it executes).
    """
    if not executable:
        return None
    if "/" in executable:
        return executable
    found = shutil.which(executable, path=os.environ.get("PATH", os.defpath))
    return os.path.abspath(found) if found else None


async def spawn(
    executable: str,
    program: str,
    arguments: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    stdin: int,
    stdout: int,
    stderr: int,
) -> asyncio.subprocess.Process:
    """Start ``program`` (found at ``executable``) as the leader of a new session.

    ``stdin``/``stdout``/``stderr`` are file descriptors the child gets; the caller keeps
    ownership of them. Raises ``OSError`` (or ``ValueError`` for arguments no OS accepts)
    when the process cannot be started.
    """
    return await asyncio.create_subprocess_exec(
        program,
        *arguments,
        executable=executable,
        cwd=cwd,
        env=dict(env),
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
    )


def kill_group(pgid: int) -> None:
    """SIGKILL every process in the group ``pgid`` (a job's session leader's pid)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def open_output_pipe() -> tuple[asyncio.StreamReader, asyncio.ReadTransport, int]:
    """A pipe for a job's stdout or stderr.

    Returns the reader of our end, its transport (to close it early) and the write end for the
    child, which the caller must close once the child has it.
    """
    loop = asyncio.get_running_loop()
    read_fd, write_fd = os.pipe()
    ours = os.fdopen(read_fd, "rb", buffering=0)
    reader = asyncio.StreamReader(limit=STREAM_LIMIT, loop=loop)
    try:
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader, loop=loop), ours
        )
    except BaseException:
        ours.close()
        os.close(write_fd)
        raise
    return reader, transport, write_fd


async def open_stdin_pipe() -> tuple[StdinPipe, int]:
    """A pipe for a job's stdin: our writing end, and the read end for the child to inherit."""
    loop = asyncio.get_running_loop()
    read_fd, write_fd = os.pipe()
    ours = os.fdopen(write_fd, "wb", buffering=0)
    try:
        _, pipe = await loop.connect_write_pipe(StdinPipe, ours)
    except BaseException:
        ours.close()
        os.close(read_fd)
        raise
    return pipe, read_fd


class StdinPipe(asyncio.Protocol):
    """Our end of a job's stdin pipe: write, wait for the job to take it, close.

    Writes after the job closed its end (or exited) are dropped silently, as the real server
    drops stdin sent to a job that is gone.
    """

    def __init__(self) -> None:
        self._transport: asyncio.WriteTransport | None = None
        self._paused = False
        self._lost = False
        self._drained: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._wake()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake()

    @property
    def closed(self) -> bool:
        """Whether writing is over: closed by us, by the job, or the job is gone."""
        return self._lost or self._transport is None or self._transport.is_closing()

    async def write(self, data: bytes) -> None:
        """Write ``data`` and wait until the pipe has room again (the job reads it)."""
        if not data or self.closed:
            return
        assert self._transport is not None
        self._transport.write(data)
        while self._paused and not self._lost:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained

    def close(self) -> None:
        """Close the pipe once what was written has gone; the job then sees end of file."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        """Close the pipe at once, dropping anything not yet written."""
        if self._transport is not None:
            self._transport.abort()

    def _wake(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None
