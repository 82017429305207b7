"""File systems: paths, attributes, and their contents as reactive streams."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

import grpc
import reactivex
from reactivex import Observable, abc
from reactivex import operators as ops

from rxxenon._errors import (
    AdaptorError,
    CancelledError,
    DeadlineExceededError,
    NoSuchFileSystemError,
    NoSuchPathError,
    PathAlreadyExistsError,
    UnavailableError,
    XenonError,
)
from rxxenon._handles import ServerObject
from rxxenon._paths import (
    CopyErrorType,
    CopyMode,
    CopyStatus,
    Path,
    PathAttributes,
    PathLike,
    PosixFilePermission,
    path_message,
)
from rxxenon._proto import xenon_pb2 as pb
from rxxenon._rx_grpc import pieces

if TYPE_CHECKING:
    from rxxenon._connection import Connection

__all__ = ["CopyOperation", "FileSystem"]

#: How long one waitUntilDone of a copy's progress lasts on the server (ms).
_PROGRESS_SLICE_MS = 250

Data = Observable[bytes] | Iterable[bytes] | bytes


def _as_observable(data: Data) -> Observable[bytes]:
    if isinstance(data, Observable):
        return data
    if isinstance(data, bytes | bytearray | memoryview):
        return reactivex.of(bytes(data))
    return reactivex.from_iterable(data)


class FileSystem(ServerObject):
    """An open file system on a Xenon server, such as ``file://user@/home/user#123``.

    Made by :meth:`Connection.create_file_system`, :meth:`Connection.local_file_systems`,
    :meth:`Connection.list_file_systems` or :meth:`Scheduler.get_file_system`. A context
    manager: leaving the block closes it on the server. Paths may be :class:`Path`, ``str``
    or any ``os.PathLike``; relative ones are resolved against the working directory.
    Methods that return one value block (from any thread but the connection's event loop)
    and raise typed errors: ``NoSuchPathError``, ``PathAlreadyExistsError``,
    ``InvalidPathError``, ``DirectoryNotEmptyError``, ``NoSuchFileSystemError``...
    """

    _service = "filesystem"
    _handle_type = pb.FileSystem
    _closed_error = NoSuchFileSystemError

    def __init__(self, connection: Connection, filesystem_id: str) -> None:
        super().__init__(connection, filesystem_id)
        self._needs_size: bool | None = None

    def _path_request(self, path: PathLike) -> pb.PathRequest:
        return pb.PathRequest(filesystem=self._handle, path=path_message(path))

    # --- information -------------------------------------------------------------------------

    def get_path_separator(self) -> str:
        """The separator of its paths (``/``)."""
        return str(self._call("getPathSeparator", self._handle).separator)

    def get_working_directory(self) -> Path:
        """The directory relative paths start from (absolute, normalised)."""
        return Path(self._call("getWorkingDirectory", self._handle).path)

    def set_working_directory(self, path: PathLike) -> None:
        """Change the working directory; relative to the current one, normalised.

        The real server answers a missing path or a file with ``UnknownError`` (empty details).
        """
        self._call("setWorkingDirectory", self._path_request(path))

    # --- paths ---------------------------------------------------------------------------------

    def create_directory(self, path: PathLike) -> None:
        """Create one directory. Raises PathAlreadyExistsError, NoSuchPathError (parent)."""
        self._call("createDirectory", self._path_request(path))

    def create_directories(self, path: PathLike) -> None:
        """Create a directory and its missing parents. Raises PathAlreadyExistsError if the
        whole path exists."""
        self._call("createDirectories", self._path_request(path))

    def create_file(self, path: PathLike) -> None:
        """Create an empty file. Raises PathAlreadyExistsError, NoSuchPathError (parent)."""
        self._call("createFile", self._path_request(path))

    def create_symbolic_link(self, link: PathLike, target: PathLike) -> None:
        """Create ``link`` pointing at ``target`` (which need not exist)."""
        request = pb.CreateSymbolicLinkRequest(
            filesystem=self._handle, link=path_message(link), target=path_message(target)
        )
        self._call("createSymbolicLink", request)

    def read_symbolic_link(self, link: PathLike) -> Path:
        """The target of a symbolic link. Raises InvalidPathError if it is not a link."""
        return Path(self._call("readSymbolicLink", self._path_request(link)).path)

    def exists(self, path: PathLike) -> bool:
        """Whether the path exists (a dangling symbolic link exists)."""
        return bool(self._call("exists", self._path_request(path)).value)

    def delete(self, path: PathLike, recursive: bool = False) -> None:
        """Delete a path; ``recursive`` deletes a directory's contents too (links are not
        followed). Raises NoSuchPathError, DirectoryNotEmptyError."""
        request = pb.DeleteRequest(
            filesystem=self._handle, path=path_message(path), recursive=recursive
        )
        self._call("delete", request)

    def rename(self, source: PathLike, target: PathLike) -> None:
        """Rename ``source`` to ``target``, which must not exist."""
        request = pb.RenameRequest(
            filesystem=self._handle, source=path_message(source), target=path_message(target)
        )
        self._call("rename", request)

    def get_attributes(self, path: PathLike) -> PathAttributes:
        """The path's attributes (of a link itself, not its target)."""
        return PathAttributes.from_proto(self._call("getAttributes", self._path_request(path)))

    def set_posix_file_permissions(
        self, path: PathLike, permissions: Iterable[PosixFilePermission]
    ) -> None:
        """Set exactly these permissions (an empty set gives mode 000)."""
        request = pb.SetPosixFilePermissionsRequest(
            filesystem=self._handle,
            path=path_message(path),
            permissions=[p.value for p in permissions],
        )
        self._call("setPosixFilePermissions", request)

    # --- streams -------------------------------------------------------------------------------

    def read(self, path: PathLike) -> Observable[bytes]:
        """The file's contents, as an Observable of byte chunks.

        Cold: each subscription reads the file anew, in one call. Emits non-empty chunks
        (whatever sizes the server sends: the embedded server streams pieces with
        backpressure; xenon-grpc sends the whole file as one message), completes at the end
        of the file. A missing path arrives as ``NoSuchPathError`` on ``on_error``, a
        directory as ``InvalidPathError``. Disposing cancels the call.
        """
        return self.connection.rx.server_stream(
            self._method("readFromFile"),
            self._path_request(path),
            lambda response: response.buffer or None,
        )

    def read_bytes(self, path: PathLike) -> bytes:
        """The whole file, as one ``bytes`` (blocking; for small files)."""
        self.connection.loop.check_may_block("FileSystem.read_bytes()")
        return b"".join(self.read(path).pipe(ops.to_list()).run())

    def write(self, path: PathLike, data: Data, *, size: int | None = None) -> Observable[int]:
        """Create the file ``path`` from ``data``; the Observable emits the bytes written.

        ``data`` is an Observable of byte chunks, an iterable of them, or one ``bytes``. Chunks
        over 1 MiB are split. ``size`` is sent when the adaptor needs it up front (``s3``);
        it is worked out for a single ``bytes``.

        Cold: each subscription writes the file. It emits the number of bytes sent and
        completes once the server has committed the file. Errors arrive on ``on_error``:
        ``PathAlreadyExistsError`` (the file exists; it is left unchanged), ``AdaptorError``
        (the parent directory is missing), or the error of ``data`` itself. If ``data``
        fails or the subscription is disposed mid-way, the call is cancelled, and what the
        server has written so far stays on disk (both the Java and the embedded server keep
        such a partial file).
        """
        return self._upload("writeToFile", path, data, size)

    def append(self, path: PathLike, data: Data) -> Observable[int]:
        """Append ``data`` to the existing file ``path``; like :meth:`write` otherwise.

        ``NoSuchPathError`` if the file does not exist, ``InvalidPathError`` for a directory.
        """
        return self._upload("appendToFile", path, data, None)

    def _upload(self, method: str, path: PathLike, data: Data, size: int | None) -> Observable[int]:
        if method == "writeToFile" and size is None and self._needs_size_beforehand():
            if not isinstance(data, bytes | bytearray | memoryview):
                raise ValueError(
                    f"the {self.get_adaptor_name()} adaptor needs the size of a file before it "
                    "is written: pass size=..."
                )
            size = len(data)
        handle = self._handle
        target = path_message(path)
        source = _as_observable(data)

        def header() -> Any:
            if method == "writeToFile":
                return pb.WriteToFileRequest(filesystem=handle, path=target, size=size or 0)
            return pb.AppendToFileRequest(filesystem=handle, path=target)

        make = pb.WriteToFileRequest if method == "writeToFile" else pb.AppendToFileRequest

        def subscribe(
            observer: abc.ObserverBase[int], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            sent = 0

            def requests(
                request_observer: abc.ObserverBase[Any],
                request_scheduler: abc.SchedulerBase | None = None,
            ) -> abc.DisposableBase:
                request_observer.on_next(header())

                def on_chunk(chunk: bytes) -> None:
                    nonlocal sent
                    for piece in pieces(chunk):
                        sent += len(piece)
                        request_observer.on_next(make(buffer=piece))

                return source.subscribe(
                    on_chunk,
                    request_observer.on_error,
                    request_observer.on_completed,
                    scheduler=request_scheduler,
                )

            call = self.connection.rx.client_stream(self._method(method), Observable(requests))
            return call.pipe(ops.map(lambda _: sent)).subscribe(observer, scheduler=scheduler)

        return Observable(subscribe)

    def _needs_size_beforehand(self) -> bool:
        if self._needs_size is None:
            name = self.get_adaptor_name()
            self._needs_size = self.connection.get_file_system_adaptor_description(
                name
            ).needs_size_beforehand
        return self._needs_size

    def list(self, directory: PathLike, recursive: bool = False) -> Observable[PathAttributes]:
        """The entries of a directory (not the directory itself), as an Observable.

        Cold: each subscription lists anew. Emits one :class:`PathAttributes` per entry in
        the server's order (``recursive``: a directory's entries, then each subdirectory's),
        then completes. ``NoSuchPathError`` or ``InvalidPathError`` (not a directory) arrive
        on ``on_error``. Disposing cancels the call.
        """
        request = pb.ListRequest(
            filesystem=self._handle, dir=path_message(directory), recursive=recursive
        )
        return self.connection.rx.server_stream(
            self._method("list"), request, PathAttributes.from_proto
        )

    # --- copies --------------------------------------------------------------------------------

    def copy(
        self,
        source: PathLike,
        destination: PathLike,
        *,
        destination_file_system: FileSystem | None = None,
        mode: CopyMode = CopyMode.CREATE,
        recursive: bool = False,
    ) -> CopyOperation:
        """Start copying ``source`` to ``destination`` (on this or another file system).

        Returns at once; follow it with :meth:`CopyOperation.progress`, :meth:`~CopyOperation.wait`
        or :meth:`~CopyOperation.cancel`. Copies of one file system run one at a time. A
        relative ``destination`` is resolved against *this* file system's working directory,
        even when copying to another one (as xenon-grpc does).
        """
        request = pb.CopyRequest(
            filesystem=self._handle,
            source=path_message(source),
            destination_filesystem=(destination_file_system or self)._handle,
            destination=path_message(destination),
            mode=mode.value,
            recursive=recursive,
        )
        return CopyOperation(self, self._call("copy", request).id)


_COPY_ERRORS: dict[CopyErrorType, type[XenonError]] = {
    CopyErrorType.NOT_FOUND: NoSuchPathError,
    CopyErrorType.ALREADY_EXISTS: PathAlreadyExistsError,
    CopyErrorType.CANCELLED: CancelledError,
    CopyErrorType.NOT_CONNECTED: UnavailableError,
    CopyErrorType.XENON: AdaptorError,
}


def copy_error(status: CopyStatus) -> XenonError | None:
    """The typed error of a failed copy's final status, or None."""
    if not status.done or status.error_type is CopyErrorType.NONE:
        return None
    return _COPY_ERRORS[status.error_type].from_message(status.error_message)


class CopyOperation:
    """A copy started by :meth:`FileSystem.copy`.

    Xenon servers forget a copy once its final status has been read; this object keeps
    that final status, so :meth:`wait`, :meth:`cancel` and :meth:`progress` can be called
    in any order and again.
    """

    def __init__(self, file_system: FileSystem, copy_id: str) -> None:
        self.file_system = file_system
        self.id = copy_id
        self._request = pb.CopyOperationRequest(
            filesystem=file_system._handle, copy_operation=pb.CopyOperation(id=copy_id)
        )
        self._final: CopyStatus | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<CopyOperation {self.id} on {self.file_system.id}>"

    def _remember(self, status: CopyStatus) -> CopyStatus:
        if status.done:
            self._final = status
        return status

    def _wait_request(self, timeout_ms: int) -> pb.WaitUntilDoneRequest:
        return pb.WaitUntilDoneRequest(
            filesystem=self._request.filesystem,
            copy_operation=self._request.copy_operation,
            timeout=timeout_ms,
        )

    def status(self) -> CopyStatus:
        """The copy's status now (its final status once done)."""
        with self._lock:
            if self._final is not None:
                return self._final
            message = self.file_system._call("getStatus", self._request)
            return self._remember(CopyStatus.from_proto(message))

    def cancel(self) -> CopyStatus:
        """Stop the copy (the partial destination stays) and return its final status."""
        with self._lock:
            if self._final is not None:
                return self._final
            message = self.file_system._call("cancel", self._request)
            return self._remember(CopyStatus.from_proto(message))

    def wait(self, timeout: float | None = None) -> CopyStatus:
        """Wait until the copy is done; return its final status.

        Raises:
            NoSuchPathError, PathAlreadyExistsError, CancelledError, AdaptorError: the copy
                failed (the error carries the server's message).
            DeadlineExceededError: not done within ``timeout`` seconds (None: no limit).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                if self._final is None:
                    left = _PROGRESS_SLICE_MS
                    if deadline is not None:
                        left = max(1, min(left, int((deadline - time.monotonic()) * 1000)))
                    message = self.file_system._call("waitUntilDone", self._wait_request(left))
                    self._remember(CopyStatus.from_proto(message))
                final = self._final
            if final is not None:
                error = copy_error(final)
                if error is not None:
                    raise error
                return final
            if deadline is not None and time.monotonic() >= deadline:
                raise DeadlineExceededError(f"copy {self.id} is not done after {timeout} s")

    def progress(self) -> Observable[CopyStatus]:
        """The copy's status each time it changes, until it is done.

        Emits the current status, then each change (``bytes_copied`` growing, the state
        moving), at most about four times a second; completes after a successful final
        status. A failed copy ends with its typed error on ``on_error`` (after its final
        status). Cold; disposing stops watching (the copy goes on: use :meth:`cancel`).
        """
        stubs = self.file_system.connection.stubs

        async def watch() -> AsyncIterator[CopyStatus]:
            last: CopyStatus | None = None
            while True:
                status = self._final
                if status is None:
                    try:
                        message = await stubs.filesystem.waitUntilDone(
                            self._wait_request(_PROGRESS_SLICE_MS)
                        )
                        status = self._remember(CopyStatus.from_proto(message))
                    except grpc.RpcError:
                        # Forgotten because wait() or cancel() read the final status meanwhile?
                        status = self._final
                        if status is None:
                            raise
                if status != last:
                    yield status
                    last = status
                if status.done:
                    error = copy_error(status)
                    if error is not None:
                        raise error
                    return

        return self.file_system.connection.rx.observable(watch)
