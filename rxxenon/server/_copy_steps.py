"""What one copy does, as blocking steps: its checks, its plan, and copying one piece.

:func:`plan` makes every check before anything is written, in the real server's order and with
its messages (reference §5.9, and xenon-grpc where the reference is silent):

1. The source must exist: ``NoSuchPathError`` ``"No such file <source>"``.
2. A directory needs ``recursive``: ``InvalidPathError`` ``"Source path is a directory:
   <source>"``. A FIFO, socket or device is ``InvalidPathError`` ``"Source path is not a
   file, link or directory: <source>"``.
3. The destination's parent must be a directory: ``NoSuchPathError`` ``"Path does not exist:
   <parent>"`` (or ``InvalidPathError`` ``"Path is not a directory: <parent>"``).
4. An existing destination: ``CREATE`` fails with ``PathAlreadyExistsError`` ``"Destination
   path already exists: <destination>"``, ``IGNORE`` copies nothing, ``REPLACE`` goes on (a
   file is overwritten; a directory tree is merged into an existing directory; a
   non-directory in the place of a directory tree is removed first).

As xenon-grpc does: a source that is a symbolic link (dangling or not) is copied as a link,
whose target is the source's as ``readSymbolicLink`` gives it, normalised; a recursive copy
recreates the directories and regular files of the tree and skips everything else (links,
FIFOs, sockets, devices). Copying a file onto itself copies nothing (xenon-grpc's ``REPLACE``
destroys the file: a divergence).
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass, field

from rxxenon._errors import AdaptorError, InvalidPathError, NoSuchPathError, PathAlreadyExistsError
from rxxenon._proto import xenon_pb2 as pb
from rxxenon.server._file_paths import child, normalise
from rxxenon.server._local_files import (
    ADAPTOR,
    assert_parent_directory,
    exists,
    open_for_reading,
    read_symbolic_link,
    write_all,
)

__all__ = [
    "CopyPlan",
    "FilePair",
    "close_pair",
    "copy_piece",
    "create_directories",
    "create_links",
    "open_pair",
    "plan",
]

_Mode = pb.CopyRequest.CopyMode
CREATE = _Mode.CREATE
REPLACE = _Mode.REPLACE
IGNORE = _Mode.IGNORE


@dataclass
class CopyPlan:
    """The steps of one copy, decided before anything is written.

    Attributes:
        total: bytes of the regular files to copy (``bytes_to_copy``).
        remove_first: a non-directory to remove where a directory tree goes (``REPLACE``).
        directories: directories to create (if missing), parents first.
        files: ``(source, destination)`` regular files to copy, in order.
        links: ``(destination, target)`` symbolic links to create (a link copied itself).
    """

    total: int = 0
    remove_first: str | None = None
    directories: list[str] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)


def _already_exists(path: str) -> PathAlreadyExistsError:
    return PathAlreadyExistsError.from_adaptor(ADAPTOR, f"Destination path already exists: {path}")


def _failed(error: OSError) -> AdaptorError:
    return AdaptorError.from_adaptor(ADAPTOR, f"Stream copy failed: {error.strerror or error}")


def plan(source: str, destination: str, mode: int, recursive: bool) -> CopyPlan:
    """Check a copy (see the module docstring) and plan its steps; writes nothing."""
    try:
        status = os.lstat(source)
    except OSError:
        raise NoSuchPathError.from_adaptor(ADAPTOR, f"No such file {source}") from None
    if stat.S_ISDIR(status.st_mode):
        if not recursive:
            raise InvalidPathError.from_adaptor(ADAPTOR, f"Source path is a directory: {source}")
    elif not (stat.S_ISREG(status.st_mode) or stat.S_ISLNK(status.st_mode)):
        message = f"Source path is not a file, link or directory: {source}"
        raise InvalidPathError.from_adaptor(ADAPTOR, message)
    assert_parent_directory(destination)
    if exists(destination):
        if mode == CREATE:
            raise _already_exists(destination)
        if mode == IGNORE:
            return CopyPlan()
    if stat.S_ISLNK(status.st_mode):
        return CopyPlan(links=[(destination, normalise(read_symbolic_link(source)))])
    if not stat.S_ISDIR(status.st_mode):
        return CopyPlan(total=status.st_size, files=[(source, destination)])
    result = CopyPlan()
    if exists(destination) and not os.path.isdir(destination):
        result.remove_first = destination
    result.directories.append(destination)
    _plan_tree(source, destination, result)
    return result


def _plan_tree(source: str, destination: str, result: CopyPlan) -> None:
    """Add the directories and regular files inside the directory ``source`` (not following
    links) to ``result``."""
    pending = [(source, destination)]
    while pending:
        folder, target = pending.pop()
        subfolders = []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    entry_source = child(folder, entry.name)
                    entry_target = child(target, entry.name)
                    status = entry.stat(follow_symlinks=False)
                    if stat.S_ISDIR(status.st_mode):
                        result.directories.append(entry_target)
                        subfolders.append((entry_source, entry_target))
                    elif stat.S_ISREG(status.st_mode):
                        result.total += status.st_size
                        result.files.append((entry_source, entry_target))
        except OSError as error:
            raise _failed(error) from error
        pending.extend(reversed(subfolders))


def create_directories(copy_plan: CopyPlan) -> None:
    """Remove what ``REPLACE`` replaces by a directory tree, then create its directories."""
    try:
        if copy_plan.remove_first is not None:
            os.unlink(copy_plan.remove_first)
        for folder in copy_plan.directories:
            if not os.path.isdir(folder):
                os.mkdir(folder)
    except OSError as error:
        raise _failed(error) from error


def create_links(copy_plan: CopyPlan, mode: int) -> None:
    """Create the symbolic links of a copy (an existing path is handled by ``mode``)."""
    for link, target in copy_plan.links:
        try:
            if exists(link):
                if mode == CREATE:
                    raise _already_exists(link)
                if mode == IGNORE:
                    continue
                os.unlink(link)
            os.symlink(target, link)
        except OSError as error:
            raise _failed(error) from error


@dataclass(frozen=True)
class FilePair:
    """One file to copy, open for reading, and its destination, open for writing."""

    reader: io.FileIO
    writer: io.FileIO

    def close(self) -> None:
        """Close both (the destination last: its close may report a write error)."""
        self.reader.close()
        self.writer.close()


def open_pair(source: str, destination: str, mode: int) -> FilePair | None:
    """Open one file to copy and its destination; ``None`` if there is nothing to copy.

    An existing destination is handled by ``mode`` (``CREATE`` fails, ``IGNORE`` skips,
    ``REPLACE`` truncates it, following a link); a destination that is the source itself is
    skipped.
    """
    if exists(destination):
        if mode == CREATE:
            raise _already_exists(destination)
        if mode == IGNORE:
            return None
        try:
            if os.path.samefile(source, destination):
                return None
        except OSError:
            pass
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
    flags |= os.O_EXCL if mode == CREATE else os.O_TRUNC
    reader = open_for_reading(source)
    try:
        writer = io.FileIO(os.open(destination, flags, 0o666), "wb")
    except FileExistsError:
        reader.close()
        raise _already_exists(destination) from None
    except OSError as error:
        reader.close()
        raise _failed(error) from error
    return FilePair(reader, writer)


def copy_piece(files: FilePair, size: int) -> int:
    """Copy up to ``size`` bytes of ``files``; how many (0 at the end)."""
    try:
        data = files.reader.read(size)
        if data:
            write_all(files.writer, data)
    except OSError as error:
        raise _failed(error) from error
    return len(data) if data else 0


def close_pair(files: FilePair) -> None:
    """Close both files of a copy; a failure to close the destination fails the copy."""
    try:
        files.close()
    except OSError as error:
        raise _failed(error) from error
