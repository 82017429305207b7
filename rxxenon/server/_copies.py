"""The copies of one file system: their queue, their states and the statuses the RPCs return.

As in the real server (reference §5.9):

* ``copy`` returns ``COPY-file-N`` at once, N counting from 0 per file system; it never fails
  there. Every error comes later, in the copy's status.
* The copies of one file system run one at a time, in the order they were made.
* States: ``PENDING`` (queued) → ``RUNNING`` → ``DONE`` or ``FAILED``.
* A copy is **forgotten** once a final status of it has been returned, by ``getStatus``,
  ``waitUntilDone`` or ``cancel``; after that (and for ids never handed out) those calls fail
  with ``NoSuchCopyError`` ``"file adaptor: Copy not found: <id>"``.
* ``waitUntilDone`` with timeout 0 returns at once (unlike jobs); otherwise it waits up to
  ``timeout`` ms for the copy to finish and returns its status, finished or not.
* ``cancel`` stops a queued or running copy, which ends ``FAILED`` with ``CANCELLED``
  ``"file adaptor: Copy cancelled by user"``; what a running copy wrote stays.
* How a failure is reported depends on the call that reads it: ``waitUntilDone`` gives
  ``NOT_FOUND`` or ``ALREADY_EXISTS`` for a missing path or an existing destination
  (``XENON`` for the rest) with the message ``"file adaptor: <message>"``; ``getStatus``, and
  ``cancel`` of a copy that already ended, give ``XENON`` with the exception's class inside
  the message: ``"file adaptor: <java class>: file adaptor: <message>"``.
* A path with a NUL character does not fail ``copy`` itself: the copy fails, in its turn,
  with ``"file adaptor: Nul character not allowed: //<path>"`` (``getStatus``: ``"file
  adaptor: java.nio.file.InvalidPathException: Nul character ..."``).

Where this server departs from the real one (docs/embedded-server.md has the table): the
state is always the true one (the real server's ``getStatus`` says ``PENDING`` for a running
copy, and its ``waitUntilDone`` says ``RUNNING`` for a queued one), and ``bytes_to_copy`` is
the size to copy for a single file too (the real server says 0).

Copies do their I/O in the default executor, one piece of :data:`PIECE_SIZE` bytes per step,
so cancelling takes effect within one piece and the event loop never waits for the disk.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass

from rxxenon._errors import (
    AdaptorError,
    NoSuchCopyError,
    NoSuchPathError,
    PathAlreadyExistsError,
    XenonError,
)
from rxxenon._proto import xenon_pb2 as pb
from rxxenon.server._blocking import open_blocking, run_blocking
from rxxenon.server._copy_steps import (
    CopyPlan,
    FilePair,
    close_pair,
    copy_piece,
    create_directories,
    create_links,
    open_pair,
    plan,
)
from rxxenon.server._local_files import ADAPTOR

__all__ = ["DONE", "FAILED", "PENDING", "PIECE_SIZE", "RUNNING", "CopyQueue", "CopySnapshot"]

logger = logging.getLogger("rxxenon.server")

PENDING = "PENDING"
RUNNING = "RUNNING"
DONE = "DONE"
FAILED = "FAILED"
#: Bytes copied per step (one read and one write in the executor).
PIECE_SIZE = 1024 * 1024

_ErrorType = pb.CopyStatus.ErrorType
_CANCELLED = f"{ADAPTOR} adaptor: Copy cancelled by user"
#: Timeouts (ms) at or above this are negative as a Java long: they do not wait.
_NEGATIVE_MS = 2**63


@dataclass(frozen=True)
class CopySnapshot:
    """A copy's status at one moment, as one RPC reports it (what ``CopyStatus`` carries)."""

    copy_id: str
    state: str
    bytes_copied: int
    bytes_to_copy: int
    error_type: _ErrorType.ValueType = _ErrorType.NONE
    error_message: str = ""

    @property
    def running(self) -> bool:
        """Whether the state is ``RUNNING``."""
        return self.state == RUNNING

    @property
    def done(self) -> bool:
        """Whether the state is final (``DONE`` or ``FAILED``)."""
        return self.state in (DONE, FAILED)


class _Cancelled(Exception):
    """The copy was cancelled (by ``cancel``, closing its file system or server stop)."""


class _Copy:
    """One copy, from ``copy`` to its final state."""

    def __init__(
        self,
        copy_id: str,
        source: str,
        destination: str,
        mode: int,
        recursive: bool,
        error: XenonError | None = None,
    ) -> None:
        self.id = copy_id
        self.invalid = error  # a request that fails when its turn comes
        self.source = source
        self.destination = destination
        self.mode = mode
        self.recursive = recursive
        self.state = PENDING
        self.bytes_copied = 0
        self.bytes_to_copy = 0
        self.error: XenonError | None = None
        self.cancelled = False
        self.cancel_requested = False
        self.finished = asyncio.Event()

    @property
    def done(self) -> bool:
        return self.state in (DONE, FAILED)

    def finish(self, error: XenonError | None = None, *, cancelled: bool = False) -> None:
        self.state = FAILED if error is not None or cancelled else DONE
        self.error = error
        self.cancelled = cancelled
        self.finished.set()

    def check_cancelled(self) -> None:
        if self.cancel_requested:
            raise _Cancelled

    def snapshot(self, *, wrapped: bool) -> CopySnapshot:
        """The status; ``wrapped``: as ``getStatus`` words a failure, else as the others do."""
        error_type: _ErrorType.ValueType = _ErrorType.NONE
        message = ""
        if self.cancelled:
            error_type, message = _ErrorType.CANCELLED, _CANCELLED
        elif self.error is not None and wrapped:
            error_type = _ErrorType.XENON
            message = f"{ADAPTOR} adaptor: {self.error.details}"
        elif self.error is not None:
            error_type = _ERROR_TYPES.get(type(self.error), _ErrorType.XENON)
            message = self.error.message
            if not message.startswith(f"{ADAPTOR} adaptor: "):  # not a Xenon exception
                message = f"{ADAPTOR} adaptor: {message}"
        return CopySnapshot(
            copy_id=self.id,
            state=self.state,
            bytes_copied=self.bytes_copied,
            bytes_to_copy=self.bytes_to_copy,
            error_type=error_type,
            error_message=message,
        )


_ERROR_TYPES: dict[type[XenonError], _ErrorType.ValueType] = {
    NoSuchPathError: _ErrorType.NOT_FOUND,
    PathAlreadyExistsError: _ErrorType.ALREADY_EXISTS,
}


class CopyQueue:
    """The copies of one file system: ids, order, one at a time, statuses, forgetting.

    Used on the server's event loop only. The queue's worker task exists only while there
    are copies to run.
    """

    def __init__(self) -> None:
        self._copies: dict[str, _Copy] = {}  # known copies, by id
        self._waiting: deque[_Copy] = deque()
        self._next_number = 0
        self._worker: asyncio.Task[None] | None = None

    # Starting -----------------------------------------------------------------------------

    def submit(
        self,
        source: str,
        destination: str,
        mode: int,
        recursive: bool,
        error: XenonError | None = None,
    ) -> str:
        """Queue a copy of absolute ``source`` to absolute ``destination``; its id.

        ``error``: the request is invalid; the copy fails with it when its turn comes.
        """
        copy_id = f"COPY-{ADAPTOR}-{self._next_number}"
        copy = _Copy(copy_id, source, destination, mode, recursive, error)
        self._next_number += 1
        self._copies[copy.id] = copy
        self._waiting.append(copy)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="copy queue")
        return copy.id

    async def _work(self) -> None:
        while self._waiting:
            copy = self._waiting.popleft()
            if copy.done:  # cancelled while it waited
                continue
            copy.state = RUNNING
            try:
                await self._perform(copy)
            except _Cancelled:
                copy.finish(cancelled=True)
            except XenonError as error:
                copy.finish(error)
            except asyncio.CancelledError:  # server stop
                copy.finish(cancelled=True)
                raise
            except Exception as error:  # a bug here: the copy fails, the queue goes on
                logger.exception("embedded server: %s failed", copy.id)
                message = f"Internal error: {type(error).__name__}: {error}"
                copy.finish(AdaptorError.from_adaptor(ADAPTOR, message))
            else:
                copy.finish()

    async def _perform(self, copy: _Copy) -> None:
        if copy.invalid is not None:
            raise copy.invalid
        steps: CopyPlan = await run_blocking(
            plan, copy.source, copy.destination, copy.mode, copy.recursive
        )
        copy.bytes_to_copy = steps.total
        copy.check_cancelled()
        await run_blocking(create_directories, steps)
        for source, destination in steps.files:
            copy.check_cancelled()
            files = await open_blocking(open_pair, source, destination, copy.mode)
            if files is not None:
                await self._copy_file(copy, files)
        copy.check_cancelled()
        await run_blocking(create_links, steps, copy.mode)

    @staticmethod
    async def _copy_file(copy: _Copy, files: FilePair) -> None:
        try:
            while True:
                copy.check_cancelled()
                copied = await run_blocking(copy_piece, files, PIECE_SIZE)
                if not copied:
                    return
                copy.bytes_copied += copied
        finally:
            await run_blocking(close_pair, files)

    # Reading ------------------------------------------------------------------------------

    def _find(self, copy_id: str) -> _Copy:
        try:
            return self._copies[copy_id]
        except KeyError:
            raise NoSuchCopyError.from_adaptor(ADAPTOR, f"Copy not found: {copy_id}") from None

    def _read(self, copy: _Copy, *, wrapped: bool) -> CopySnapshot:
        """The status returned to a client: a final one makes the queue forget the copy."""
        snapshot = copy.snapshot(wrapped=wrapped)
        if snapshot.done:
            self._copies.pop(copy.id, None)
        return snapshot

    def status(self, copy_id: str) -> CopySnapshot:
        """``getStatus``."""
        return self._read(self._find(copy_id), wrapped=True)

    async def wait_until_done(self, copy_id: str, timeout_ms: int) -> CopySnapshot:
        """``waitUntilDone``: wait up to ``timeout_ms`` ms (0: not at all) for the copy to end."""
        copy = self._find(copy_id)
        if 0 < timeout_ms < _NEGATIVE_MS and not copy.done:
            try:
                async with asyncio.timeout(timeout_ms / 1000):
                    await copy.finished.wait()
            except TimeoutError:
                pass
        return self._read(copy, wrapped=False)

    async def cancel(self, copy_id: str) -> CopySnapshot:
        """``cancel``: stop the copy (a queued one at once) and return its final status (of
        a copy that had already ended, worded as ``getStatus`` words it)."""
        copy = self._find(copy_id)
        await self._stop(copy)
        return self._read(copy, wrapped=True)

    async def _stop(self, copy: _Copy) -> None:
        if copy.done:
            return
        copy.cancel_requested = True
        if copy.state == PENDING:
            copy.finish(cancelled=True)
        else:
            await copy.finished.wait()

    async def close(self) -> None:
        """Cancel every copy, forget them all and wait until none runs (file system closed)."""
        copies = list(self._copies.values())
        self._copies.clear()
        for copy in copies:
            await self._stop(copy)
        worker = self._worker
        if worker is not None and not worker.done():
            await asyncio.wait([worker])
