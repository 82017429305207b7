"""``readFromFile``, ``writeToFile`` and ``appendToFile``: files streamed over one call.

Reading (reference §5.6): errors (missing path, not a regular file) end the call before any
message. The file is then sent in pieces of up to :data:`READ_SIZE` bytes, each written with
``await context.write()``, so a slow client slows the reading down (gRPC flow control) and the
server holds a piece or two, never the file. Like the real server, the stream ends with one
empty message, so an empty file is exactly one empty message. (The real server sends the whole
file as one message, which a default client cannot receive above 4 MiB.)

Writing and appending (reference §5.7): the first message names the file system and the path
(``size`` is ignored, as the ``file`` adaptor does) and may carry data; later messages only
carry data (their other fields are ignored). No message at all: OK, nothing is created. Data
is written as it arrives, gathered into writes of about :data:`WRITE_SIZE` bytes, so memory
stays flat whatever the size of the file.

A client that cancels an upload, or whose request stream fails, leaves the file with the data
that arrived before (as on the real server). grpc.aio reports such an end to the handler as an
ordinary end of the request stream or by cancelling it; either way what was received is
written and the file is closed. A message of 4 MiB or more is refused by gRPC itself
(``RESOURCE_EXHAUSTED``) and ends the call the same way.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any, Protocol, cast

import grpc

from rxxenon._proto import xenon_pb2 as pb
from rxxenon.server._blocking import open_blocking, run_blocking
from rxxenon.server._file_paths import resolve
from rxxenon.server._local_files import open_for_reading, write_all
from rxxenon.server._registry import Registry
from rxxenon.server._status import Context

__all__ = ["READ_SIZE", "receive_file", "send_file"]

logger = logging.getLogger("rxxenon.server")

#: Bytes per ``readFromFile`` message.
READ_SIZE = 256 * 1024
#: Uploaded bytes gathered before they are written (one executor hop per write).
WRITE_SIZE = 1024 * 1024
#: Messages gathered at most before they are written (however small they are).
_MAX_BATCH = 64

_EOF: Any = grpc.aio.EOF  # type: ignore[attr-defined]  # missing from grpc-stubs


class _Upload(Protocol):
    """What ``WriteToFileRequest`` and ``AppendToFileRequest`` have in common."""

    @property
    def filesystem(self) -> pb.FileSystem: ...

    @property
    def path(self) -> pb.Path: ...

    @property
    def buffer(self) -> bytes: ...


async def _next_request(context: Context) -> _Upload | None:
    """The next request, or ``None`` once the request stream is over (however it ended)."""
    try:
        request = await context.read()
    except Exception:  # the call broke: the same as the client going away
        return None
    return None if request is _EOF else cast(_Upload, request)


def _open_and_write(open_file: Callable[[str], io.FileIO], path: str, data: bytes) -> io.FileIO:
    """Open the file of an upload and write the first message's data (one executor step)."""
    file = open_file(path)
    try:
        write_all(file, data)
    except BaseException:
        file.close()
        raise
    return file


def _write_pieces(file: io.FileIO, pieces: list[bytes]) -> None:
    write_all(file, pieces[0] if len(pieces) == 1 else b"".join(pieces))


async def send_file(path: str, context: Context) -> None:
    """Stream the regular file ``path`` to the client, a piece at a time."""
    file = await open_blocking(open_for_reading, path)
    try:
        while data := await run_blocking(file.read, READ_SIZE):
            await context.write(pb.ReadFromFileResponse(buffer=data))
        await context.write(pb.ReadFromFileResponse())
    finally:
        file.close()


async def receive_file(
    registry: Registry, context: Context, open_file: Callable[[str], io.FileIO]
) -> pb.Empty:
    """Serve one upload call: open the file the first message names, write every buffer.

    ``open_file`` opens the absolute path for writing (``writeToFile``) or appending
    (``appendToFile``) and raises the real server's errors.
    """
    first = await _next_request(context)
    if first is None:
        return pb.Empty()
    filesystem = registry.file_system(first.filesystem.id)
    path = resolve(first.path, filesystem.working_directory)
    file = await open_blocking(_open_and_write, open_file, path, first.buffer)
    batch: list[bytes] = []  # received, not yet written
    batched = 0
    received = len(first.buffer)
    try:
        request = await _next_request(context)
        while request is not None:
            if request.buffer:
                batch.append(request.buffer)
                batched += len(request.buffer)
                received += len(request.buffer)
            if batched >= WRITE_SIZE or len(batch) >= _MAX_BATCH:
                pieces, batch, batched = batch, [], 0
                await run_blocking(_write_pieces, file, pieces)
            request = await _next_request(context)
    finally:
        try:
            if batch:  # the end of the stream, or what arrived before the call broke
                await run_blocking(_write_pieces, file, batch)
        finally:
            await run_blocking(file.close)
            if context.cancelled():
                logger.info("upload to %s cancelled after %d bytes", path, received)
    return pb.Empty()
