"""Helpers for the file-system tests: one file system over raw stubs, with the calls they use.

Everything here speaks the wire protocol only, so the tests state what any Xenon gRPC server
(the embedded one, or xenon-grpc 3.0.1) does.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import grpc

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc

from ._support import CALL_TIMEOUT

__all__ = [
    "XENON_FS",
    "FileSystemClient",
    "Upload",
    "no_descriptors_on",
    "open_descriptors_of",
    "sparse_file",
]

#: The package of the file-system exceptions, as it starts the details of their errors.
XENON_FS = "nl.esciencecenter.xenon.filesystems."


def sparse_file(path: Path, size: int) -> Path:
    """Create a file of ``size`` zero bytes that takes no disk space (a hole)."""
    with open(path, "wb") as file:
        file.truncate(size)
    return path


def open_descriptors_of(path: Path, pid: int | None = None) -> list[str]:
    """The descriptors process ``pid`` (the server's; by default this one, where the
    in-process embedded server runs) has open on ``path``."""
    proc = f"/proc/{pid or 'self'}/fd"
    found = []
    for fd in os.listdir(proc):
        with contextlib.suppress(OSError):
            if os.readlink(f"{proc}/{fd}") == str(path):
                found.append(fd)
    return found


class FileSystemClient:
    """One file system, over raw stubs, with the calls the tests use most.

    Args:
        stub: the FileSystemService stub.
        filesystem: the file-system handle.
        root: the local directory it was created at (its first working directory).
        server_pid: the server's process (None: this one), whose open files the tests check.
    """

    def __init__(
        self,
        stub: pb_grpc.FileSystemServiceStub,
        filesystem: pb.FileSystem,
        root: Path,
        server_pid: int | None = None,
    ) -> None:
        self.stub = stub
        self.filesystem = filesystem
        self.root = root
        self.server_pid = server_pid

    def open_descriptors(self, path: Path) -> list[str]:
        """The server's descriptors open on ``path``."""
        return open_descriptors_of(path, self.server_pid)

    def closed(self, path: Path) -> Callable[[], bool]:
        """A condition for ``poll_until``: the server has nothing open on ``path``."""
        return lambda: not self.open_descriptors(path)

    @staticmethod
    def path(path: str, separator: str = "") -> pb.Path:
        """A ``Path`` message."""
        return pb.Path(path=path, separator=separator)

    def request(self, path: str, separator: str = "") -> pb.PathRequest:
        """A ``PathRequest`` on this file system."""
        return pb.PathRequest(filesystem=self.filesystem, path=self.path(path, separator))

    # Unary calls --------------------------------------------------------------------------

    def create_directory(self, path: str) -> None:
        """createDirectory."""
        self.stub.createDirectory(self.request(path), timeout=CALL_TIMEOUT)

    def create_directories(self, path: str, separator: str = "") -> None:
        """createDirectories."""
        self.stub.createDirectories(self.request(path, separator), timeout=CALL_TIMEOUT)

    def create_file(self, path: str) -> None:
        """createFile."""
        self.stub.createFile(self.request(path), timeout=CALL_TIMEOUT)

    def exists(self, path: str, separator: str = "") -> bool:
        """exists."""
        return self.stub.exists(self.request(path, separator), timeout=CALL_TIMEOUT).value

    def delete(self, path: str, recursive: bool = False) -> None:
        """delete."""
        request = pb.DeleteRequest(
            filesystem=self.filesystem, path=self.path(path), recursive=recursive
        )
        self.stub.delete(request, timeout=CALL_TIMEOUT)

    def rename(self, source: str, target: str) -> None:
        """rename."""
        request = pb.RenameRequest(
            filesystem=self.filesystem, source=self.path(source), target=self.path(target)
        )
        self.stub.rename(request, timeout=CALL_TIMEOUT)

    def link(self, link: str, target: str) -> None:
        """createSymbolicLink."""
        request = pb.CreateSymbolicLinkRequest(
            filesystem=self.filesystem, link=self.path(link), target=self.path(target)
        )
        self.stub.createSymbolicLink(request, timeout=CALL_TIMEOUT)

    def read_link(self, path: str) -> pb.Path:
        """readSymbolicLink."""
        return self.stub.readSymbolicLink(self.request(path), timeout=CALL_TIMEOUT)

    def attributes(self, path: str, separator: str = "") -> pb.PathAttributes:
        """getAttributes."""
        return self.stub.getAttributes(self.request(path, separator), timeout=CALL_TIMEOUT)

    def set_permissions(self, path: str, *permissions: pb.PosixFilePermission.ValueType) -> None:
        """setPosixFilePermissions."""
        request = pb.SetPosixFilePermissionsRequest(
            filesystem=self.filesystem, path=self.path(path), permissions=permissions
        )
        self.stub.setPosixFilePermissions(request, timeout=CALL_TIMEOUT)

    def working_directory(self) -> pb.Path:
        """getWorkingDirectory."""
        return self.stub.getWorkingDirectory(self.filesystem, timeout=CALL_TIMEOUT)

    def set_working_directory(self, path: str) -> None:
        """setWorkingDirectory."""
        self.stub.setWorkingDirectory(self.request(path), timeout=CALL_TIMEOUT)

    # Streams ------------------------------------------------------------------------------

    def listing(self, path: str, recursive: bool = False, separator: str = "") -> list[Any]:
        """list: every entry."""
        request = pb.ListRequest(
            filesystem=self.filesystem, dir=self.path(path, separator), recursive=recursive
        )
        return list(self.stub.list(request, timeout=CALL_TIMEOUT))

    def read(self, path: str) -> list[bytes]:
        """readFromFile: the buffer of every message."""
        call = self.stub.readFromFile(self.request(path), timeout=CALL_TIMEOUT)
        return [message.buffer for message in call]

    def write(self, path: str, *buffers: bytes, size: int = 0) -> pb.Empty:
        """writeToFile: the first message names the file and carries the first buffer."""
        first = pb.WriteToFileRequest(filesystem=self.filesystem, path=self.path(path), size=size)
        return self.stub.writeToFile(
            self._messages(first, buffers, pb.WriteToFileRequest), timeout=CALL_TIMEOUT
        )

    def append(self, path: str, *buffers: bytes) -> pb.Empty:
        """appendToFile: the first message names the file and carries the first buffer."""
        first = pb.AppendToFileRequest(filesystem=self.filesystem, path=self.path(path))
        return self.stub.appendToFile(
            self._messages(first, buffers, pb.AppendToFileRequest), timeout=CALL_TIMEOUT
        )

    @staticmethod
    def _messages(first: Any, buffers: Iterable[bytes], kind: Any) -> Iterator[Any]:
        pieces = iter(buffers)
        first.buffer = next(pieces, b"")
        yield first
        for piece in pieces:
            yield kind(buffer=piece)

    # Copies -------------------------------------------------------------------------------

    def copy(
        self,
        source: str,
        destination: str,
        mode: pb.CopyRequest.CopyMode.ValueType = pb.CopyRequest.CREATE,
        recursive: bool = False,
        destination_filesystem: pb.FileSystem | None = None,
    ) -> str:
        """copy: its id."""
        request = pb.CopyRequest(
            filesystem=self.filesystem,
            source=self.path(source),
            destination_filesystem=destination_filesystem or self.filesystem,
            destination=self.path(destination),
            mode=mode,
            recursive=recursive,
        )
        return self.stub.copy(request, timeout=CALL_TIMEOUT).id

    def _copy(self, copy_id: str) -> pb.CopyOperationRequest:
        return pb.CopyOperationRequest(
            filesystem=self.filesystem, copy_operation=pb.CopyOperation(id=copy_id)
        )

    def status(self, copy_id: str) -> pb.CopyStatus:
        """getStatus."""
        return self.stub.getStatus(self._copy(copy_id), timeout=CALL_TIMEOUT)

    def wait(self, copy_id: str, timeout_ms: int = 20_000) -> pb.CopyStatus:
        """waitUntilDone."""
        request = pb.WaitUntilDoneRequest(
            filesystem=self.filesystem,
            copy_operation=pb.CopyOperation(id=copy_id),
            timeout=timeout_ms,
        )
        return self.stub.waitUntilDone(request, timeout=CALL_TIMEOUT)

    def cancel(self, copy_id: str) -> pb.CopyStatus:
        """cancel."""
        return self.stub.cancel(self._copy(copy_id), timeout=CALL_TIMEOUT)

    def close(self) -> None:
        """Close the file system if it is still open (test cleanup)."""
        with contextlib.suppress(grpc.RpcError):
            self.stub.close(self.filesystem, timeout=CALL_TIMEOUT)


class Upload:
    """A ``writeToFile`` or ``appendToFile`` call fed message by message from the test.

    Args:
        method: the stub's method (``stub.writeToFile`` or ``stub.appendToFile``).
        first: the first request.
    """

    def __init__(self, method: Any, first: Any) -> None:
        self._requests: queue.Queue[Any] = queue.Queue()
        self._over = threading.Event()
        self._requests.put(first)
        self.future: Any = method.future(self._iterate(), timeout=CALL_TIMEOUT)

    def _iterate(self) -> Iterator[Any]:
        # Runs on grpc's request thread; it ends with the call, however the call ends.
        while not self._over.is_set() and not (hasattr(self, "future") and self.future.done()):
            try:
                item = self._requests.get(timeout=0.05)
            except queue.Empty:
                continue
            if item is None:
                return
            yield item

    def send(self, request: Any) -> None:
        """Send one more request."""
        self._requests.put(request)

    def finish(self) -> Any:
        """Half-close the request stream and wait for the response."""
        self._requests.put(None)
        return self.future.result()

    def cancel(self) -> None:
        """Cancel the call from the client side."""
        self.future.cancel()
        self._over.set()


def no_descriptors_on(path: Path) -> Callable[[], bool]:
    """A condition for ``poll_until``: nothing in this process has ``path`` open."""
    return lambda: not open_descriptors_of(path)
