"""The embedded server's ``FileSystemService``: every RPC, for the ``file`` adaptor.

Handlers only translate between messages and the modules that do the work: paths are resolved
by :mod:`~rxxenon.server._file_paths`, file operations run in the default executor
(:mod:`~rxxenon.server._blocking`, :mod:`~rxxenon.server._local_files`), streams are served by
:mod:`~rxxenon.server._file_streams` and copies by each file system's
:class:`~rxxenon.server._copies.CopyQueue`. Errors are raised as :mod:`rxxenon._errors`
classes and turned into statuses by :func:`rpc`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from rxxenon._errors import UnknownError
from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from rxxenon.server import _local_files as files
from rxxenon.server._adaptors import (
    FILE_SYSTEM_ADAPTOR_NAMES,
    check_create_file_system_request,
    check_file_system_adaptor,
    file_description,
)
from rxxenon.server._blocking import run_blocking
from rxxenon.server._copies import CopySnapshot
from rxxenon.server._file_attributes import (
    PERMISSION_BITS,
    Attributes,
    attributes,
    list_directory,
)
from rxxenon.server._file_paths import (
    ROOT,
    as_given,
    nul_error,
    path_message,
    resolve,
)
from rxxenon.server._file_streams import receive_file, send_file
from rxxenon.server._registry import FileSystemRecord, Registry, os_user
from rxxenon.server._status import Context, rpc

__all__ = ["FileSystemServicer"]

#: Entries produced per step of a ``list`` walk (one executor hop per batch).
_LIST_BATCH = 256
_PERMISSIONS: tuple[pb.PosixFilePermission.ValueType, ...] = (
    pb.OWNER_READ,
    pb.OWNER_WRITE,
    pb.OWNER_EXECUTE,
    pb.GROUP_READ,
    pb.GROUP_WRITE,
    pb.GROUP_EXECUTE,
    pb.OTHERS_READ,
    pb.OTHERS_WRITE,
    pb.OTHERS_EXECUTE,
)
_BITS = dict(zip(_PERMISSIONS, PERMISSION_BITS, strict=True))


def _attributes_message(info: Attributes) -> pb.PathAttributes:
    return pb.PathAttributes(
        path=path_message(info.path),
        creation_time=info.creation_time,
        group=info.group,
        is_directory=info.is_directory,
        is_executable=info.is_executable,
        is_hidden=info.is_hidden,
        is_other=info.is_other,
        is_readable=info.is_readable,
        is_regular=info.is_regular,
        is_symbolic_link=info.is_symbolic_link,
        is_writable=info.is_writable,
        last_access_time=info.last_access_time,
        last_modified_time=info.last_modified_time,
        owner=info.owner,
        permissions=[p for p in _PERMISSIONS if info.permissions & _BITS[p]],
        size=info.size,
    )


def _copy_status(snapshot: CopySnapshot) -> pb.CopyStatus:
    return pb.CopyStatus(
        copy_operation=pb.CopyOperation(id=snapshot.copy_id),
        bytes_copied=snapshot.bytes_copied,
        bytes_to_copy=snapshot.bytes_to_copy,
        done=snapshot.done,
        running=snapshot.running,
        state=snapshot.state,
        error_message=snapshot.error_message,
        error_type=snapshot.error_type,
    )


def _take(entries: Iterator[Attributes], count: int) -> list[Attributes]:
    """Up to ``count`` more entries of a listing (blocking)."""
    return [entry for _, entry in zip(range(count), entries, strict=False)]


class FileSystemServicer(pb_grpc.FileSystemServiceServicer):
    """``FileSystemService`` over a :class:`Registry` of ``file`` file systems.

    Args:
        registry: the server's open schedulers and file systems.
    """

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def shutdown(self) -> None:
        """Cancel every copy of every open file system and wait until none runs."""
        await asyncio.gather(*(fs.copies.close() for fs in self._registry.file_systems()))

    # Adaptors -----------------------------------------------------------------------------

    @rpc
    async def getAdaptorDescriptions(
        self, request: pb.Empty, context: Context
    ) -> pb.FileSystemAdaptorDescriptions:
        return pb.FileSystemAdaptorDescriptions(descriptions=[file_description()])

    @rpc
    async def getAdaptorNames(self, request: pb.Empty, context: Context) -> pb.AdaptorNames:
        return pb.AdaptorNames(name=FILE_SYSTEM_ADAPTOR_NAMES)

    @rpc
    async def getAdaptorDescription(
        self, request: pb.AdaptorName, context: Context
    ) -> pb.FileSystemAdaptorDescription:
        check_file_system_adaptor(request.name)
        return file_description()

    # Instances ----------------------------------------------------------------------------

    @rpc
    async def create(self, request: pb.CreateFileSystemRequest, context: Context) -> pb.FileSystem:
        check_create_file_system_request(request)
        username = request.default_credential.username or os_user()
        record = self._registry.new_file_system(request.location, username, request.properties)
        self._registry.add_file_system(record)
        return pb.FileSystem(id=record.id)

    @rpc
    async def localFileSystems(self, request: pb.Empty, context: Context) -> pb.FileSystems:
        record = self._registry.new_file_system(ROOT, os_user())
        self._registry.add_file_system(record)
        return pb.FileSystems(filesystems=[pb.FileSystem(id=record.id)])

    @rpc
    async def listFileSystems(self, request: pb.Empty, context: Context) -> pb.FileSystems:
        return pb.FileSystems(
            filesystems=[pb.FileSystem(id=fs.id) for fs in self._registry.file_systems()]
        )

    @rpc
    async def close(self, request: pb.FileSystem, context: Context) -> pb.Empty:
        record = self._registry.remove_file_system(request.id)
        await record.copies.close()  # its copies can no longer be reached
        return pb.Empty()

    @rpc
    async def isOpen(self, request: pb.FileSystem, context: Context) -> pb.Is:
        self._fs(request)
        return pb.Is(value=True)

    def _fs(self, handle: pb.FileSystem) -> FileSystemRecord:
        return self._registry.file_system(handle.id)

    def _resolve(self, request: pb.PathRequest) -> str:
        """The absolute path of a request on its file system (checking the handle first)."""
        return resolve(request.path, self._fs(request.filesystem).working_directory)

    # Information --------------------------------------------------------------------------

    @rpc
    async def getAdaptorName(self, request: pb.FileSystem, context: Context) -> pb.AdaptorName:
        return pb.AdaptorName(name=self._fs(request).adaptor)

    @rpc
    async def getLocation(self, request: pb.FileSystem, context: Context) -> pb.Location:
        return pb.Location(location=self._fs(request).location)

    @rpc
    async def getCredential(
        self, request: pb.FileSystem, context: Context
    ) -> pb.GetCredentialResponse:
        self._fs(request)
        # The OS user, even for a file system created with another DefaultCredential username.
        return pb.GetCredentialResponse(default_credential=pb.DefaultCredential(username=os_user()))

    @rpc
    async def getProperties(self, request: pb.FileSystem, context: Context) -> pb.Properties:
        return pb.Properties(properties=self._fs(request).properties)

    @rpc
    async def getPathSeparator(
        self, request: pb.FileSystem, context: Context
    ) -> pb.GetPathSeparatorResponse:
        self._fs(request)
        return pb.GetPathSeparatorResponse(separator="/")

    # Working directory --------------------------------------------------------------------

    @rpc
    async def getWorkingDirectory(self, request: pb.FileSystem, context: Context) -> pb.Path:
        return path_message(self._fs(request).working_directory)

    @rpc
    async def setWorkingDirectory(self, request: pb.PathRequest, context: Context) -> pb.Empty:
        record = self._fs(request.filesystem)
        path = resolve(request.path, record.working_directory)
        # A directory, not a link to one: the real server fails otherwise, with an unmapped
        # exception.
        if not await run_blocking(files.is_directory_itself, path):
            raise UnknownError("")
        record.working_directory = path
        return pb.Empty()

    # Creating, deleting, renaming ---------------------------------------------------------

    @rpc
    async def createDirectory(self, request: pb.PathRequest, context: Context) -> pb.Empty:
        await run_blocking(files.create_directory, self._resolve(request))
        return pb.Empty()

    @rpc
    async def createDirectories(self, request: pb.PathRequest, context: Context) -> pb.Empty:
        await run_blocking(files.create_directories, self._resolve(request))
        return pb.Empty()

    @rpc
    async def createFile(self, request: pb.PathRequest, context: Context) -> pb.Empty:
        await run_blocking(files.create_file, self._resolve(request))
        return pb.Empty()

    @rpc
    async def createSymbolicLink(
        self, request: pb.CreateSymbolicLinkRequest, context: Context
    ) -> pb.Empty:
        working_directory = self._fs(request.filesystem).working_directory
        link = resolve(request.link, working_directory)
        target = resolve(request.target, working_directory)  # stored absolute, as Java does
        await run_blocking(files.create_symbolic_link, link, target)
        return pb.Empty()

    @rpc
    async def readSymbolicLink(self, request: pb.PathRequest, context: Context) -> pb.Path:
        return path_message(await run_blocking(files.read_symbolic_link, self._resolve(request)))

    @rpc
    async def exists(self, request: pb.PathRequest, context: Context) -> pb.Is:
        return pb.Is(value=await run_blocking(files.exists, self._resolve(request)))

    @rpc
    async def delete(self, request: pb.DeleteRequest, context: Context) -> pb.Empty:
        # As xenon-grpc: the normalised path is deleted, so "." is the working directory
        # and ".." its parent.
        path = resolve(request.path, self._fs(request.filesystem).working_directory)
        await run_blocking(files.delete, path, request.recursive)
        return pb.Empty()

    @rpc
    async def rename(self, request: pb.RenameRequest, context: Context) -> pb.Empty:
        working_directory = self._fs(request.filesystem).working_directory
        source = resolve(request.source, working_directory)
        target = resolve(request.target, working_directory)
        await run_blocking(files.rename, source, target)
        return pb.Empty()

    # Attributes and permissions -----------------------------------------------------------

    @rpc
    async def getAttributes(self, request: pb.PathRequest, context: Context) -> pb.PathAttributes:
        return _attributes_message(await run_blocking(attributes, self._resolve(request)))

    @rpc
    async def setPosixFilePermissions(
        self, request: pb.SetPosixFilePermissionsRequest, context: Context
    ) -> pb.Empty:
        path = resolve(request.path, self._fs(request.filesystem).working_directory)
        mode = 0
        for permission in request.permissions:  # NONE (and values unknown here) add nothing
            mode |= _BITS.get(permission, 0)
        await run_blocking(files.set_permissions, path, mode)
        return pb.Empty()

    @rpc
    async def list(  # type: ignore[override]  # writes with context.write
        self, request: pb.ListRequest, context: Context
    ) -> None:
        path = resolve(request.dir, self._fs(request.filesystem).working_directory)
        entries = list_directory(path, as_given(request.dir), request.recursive)
        try:
            while batch := await run_blocking(_take, entries, _LIST_BATCH):
                for entry in batch:
                    await context.write(_attributes_message(entry))
        finally:
            await run_blocking(entries.close)

    # Streams ------------------------------------------------------------------------------

    @rpc
    async def readFromFile(  # type: ignore[override]  # writes with context.write
        self, request: pb.PathRequest, context: Context
    ) -> None:
        await send_file(self._resolve(request), context)

    @rpc
    async def writeToFile(  # reads with context.read, not request_iterator
        self, request_iterator: object, context: Context
    ) -> pb.Empty:
        return await receive_file(self._registry, context, files.open_for_writing)

    @rpc
    async def appendToFile(  # reads with context.read, not request_iterator
        self, request_iterator: object, context: Context
    ) -> pb.Empty:
        return await receive_file(self._registry, context, files.open_for_appending)

    # Copies -------------------------------------------------------------------------------

    @rpc
    async def copy(self, request: pb.CopyRequest, context: Context) -> pb.CopyOperation:
        source_fs = self._fs(request.filesystem)
        self._fs(request.destination_filesystem)
        # Both paths are resolved on the source file system, as the real server does. A NUL
        # in either fails the copy, not the call.
        source = resolve(request.source, source_fs.working_directory, check_nul=False)
        destination = resolve(request.destination, source_fs.working_directory, check_nul=False)
        invalid = next((nul_error(p) for p in (source, destination) if "\0" in p), None)
        copy_id = source_fs.copies.submit(
            source, destination, request.mode, request.recursive, invalid
        )
        return pb.CopyOperation(id=copy_id)

    @rpc
    async def getStatus(self, request: pb.CopyOperationRequest, context: Context) -> pb.CopyStatus:
        copies = self._fs(request.filesystem).copies
        return _copy_status(copies.status(request.copy_operation.id))

    @rpc
    async def waitUntilDone(
        self, request: pb.WaitUntilDoneRequest, context: Context
    ) -> pb.CopyStatus:
        copies = self._fs(request.filesystem).copies
        snapshot = await copies.wait_until_done(request.copy_operation.id, request.timeout)
        return _copy_status(snapshot)

    @rpc
    async def cancel(self, request: pb.CopyOperationRequest, context: Context) -> pb.CopyStatus:
        copies = self._fs(request.filesystem).copies
        return _copy_status(await copies.cancel(request.copy_operation.id))
