"""The ``file`` adaptor's operations on local paths, with the real server's errors.

(What ``getAttributes`` and ``list`` say about paths is in
:mod:`~rxxenon.server._file_attributes`.)

Every function here blocks (callers run them with
:func:`~rxxenon.server._blocking.run_blocking`), takes absolute normalised paths
(:mod:`~rxxenon.server._file_paths`) and raises :mod:`rxxenon._errors` classes worded as the
real server words them (reference §5.3 to §5.8), for example ``NoSuchPathError`` ``"file
adaptor: Path does not exist: <path>"``. An OS failure the reference does not describe (no
permission, a full disk, ...) is an ``AdaptorError`` (a plain ``XenonException``).

Links: ``exists``, ``delete``, reading and appending look at a link itself, as xenon-grpc
does (a dangling link exists; ``delete`` removes the link, never what it points to, and a
recursive ``delete`` never descends through a link; a link is not a file to read or append
to). ``setPosixFilePermissions`` and the parent directory of a new path follow links, as the
operating system does.
"""

from __future__ import annotations

import errno
import io
import os
import stat

from rxxenon._errors import (
    AdaptorError,
    DirectoryNotEmptyError,
    InvalidPathError,
    NoSuchPathError,
    PathAlreadyExistsError,
)
from rxxenon.server._file_paths import parent

__all__ = [
    "ADAPTOR",
    "assert_exists",
    "assert_parent_directory",
    "create_directories",
    "create_directory",
    "create_file",
    "create_symbolic_link",
    "delete",
    "exists",
    "is_directory",
    "is_directory_itself",
    "lstat",
    "no_such_path",
    "open_for_appending",
    "open_for_reading",
    "open_for_writing",
    "read_symbolic_link",
    "rename",
    "set_permissions",
    "write_all",
]

ADAPTOR = "file"


# Checks -------------------------------------------------------------------------------------


def no_such_path(path: str) -> NoSuchPathError:
    """``NoSuchPathException: file adaptor: Path does not exist: <path>``."""
    return NoSuchPathError.from_adaptor(ADAPTOR, f"Path does not exist: {path}")


def lstat(path: str) -> os.stat_result | None:
    """The status of the path itself (not following a link); ``None`` if it does not exist."""
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise AdaptorError.from_adaptor(ADAPTOR, f"Cannot read attributes of {path}") from error


def exists(path: str) -> bool:
    """Whether ``path`` exists (a dangling link does)."""
    return lstat(path) is not None


def assert_exists(path: str) -> os.stat_result:
    """The status of the path itself; ``NoSuchPathError`` if it does not exist."""
    status = lstat(path)
    if status is None:
        raise no_such_path(path)
    return status


def _assert_not_exists(path: str) -> None:
    if exists(path):
        raise PathAlreadyExistsError.from_adaptor(ADAPTOR, f"Path already exists: {path}")


def is_directory(path: str) -> bool:
    """Whether ``path`` is a directory, or a link to one."""
    return os.path.isdir(path)


def is_directory_itself(path: str) -> bool:
    """Whether ``path`` is a directory (not a link to one)."""
    status = lstat(path)
    return status is not None and stat.S_ISDIR(status.st_mode)


def assert_parent_directory(path: str) -> None:
    """The parent of ``path`` must be a directory (or a link to one).

    ``NoSuchPathError`` naming the parent if it does not exist, ``InvalidPathError`` ``"Path
    is not a directory: <parent>"`` if it is something else.
    """
    folder = parent(path)
    assert_exists(folder)
    if not is_directory(folder):
        raise InvalidPathError.from_adaptor(ADAPTOR, f"Path is not a directory: {folder}")


# Creating -----------------------------------------------------------------------------------


def create_directory(path: str) -> None:
    """Create one directory: it must not exist, its parent must."""
    _assert_not_exists(path)
    assert_parent_directory(path)
    try:
        os.mkdir(path)
    except FileExistsError:
        raise PathAlreadyExistsError.from_adaptor(ADAPTOR, f"Path already exists: {path}") from None
    except OSError as error:
        raise AdaptorError.from_adaptor(ADAPTOR, f"Failed to create directory {path}") from error


def create_directories(path: str) -> None:
    """Create a directory and its missing parents; the directory itself must not exist."""
    missing = []
    folder = parent(path)
    while not exists(folder):
        missing.append(folder)
        folder = parent(folder)
    for folder in reversed(missing):
        create_directory(folder)
    create_directory(path)


def create_file(path: str) -> None:
    """Create an empty file: it must not exist, its parent must."""
    _assert_not_exists(path)
    assert_parent_directory(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except FileExistsError:
        raise PathAlreadyExistsError.from_adaptor(ADAPTOR, f"Path already exists: {path}") from None
    except OSError as error:
        raise AdaptorError.from_adaptor(ADAPTOR, f"Failed to create file {path}") from error
    os.close(fd)


def create_symbolic_link(link: str, target: str) -> None:
    """Create ``link`` pointing at ``target`` (stored as given: callers make it absolute)."""
    _assert_not_exists(link)
    assert_parent_directory(link)
    try:
        os.symlink(target, link)
    except FileExistsError:
        raise PathAlreadyExistsError.from_adaptor(ADAPTOR, f"Path already exists: {link}") from None
    except OSError as error:
        message = f"Failed to create link {link} to {target}"
        raise AdaptorError.from_adaptor(ADAPTOR, message) from error


def read_symbolic_link(link: str) -> str:
    """The target of ``link`` as xenon-grpc gives it: an absolute target as stored, a relative
    one appended to the link's folder, neither normalised (``/d/../f`` for ``../f`` in ``/d``);
    only empty names are dropped."""
    status = assert_exists(link)
    if not stat.S_ISLNK(status.st_mode):
        raise InvalidPathError.from_adaptor(ADAPTOR, f"Not a symbolic link: {link}")
    try:
        target = os.readlink(link)
    except OSError as error:
        raise AdaptorError.from_adaptor(ADAPTOR, "Failed to read symbolic link.") from error
    names = [name for name in target.split("/") if name]
    if not target.startswith("/"):
        names = [name for name in parent(link).split("/") if name] + names
    return "/" + "/".join(names)


# Deleting and renaming ----------------------------------------------------------------------


def delete(path: str, recursive: bool) -> None:
    """Delete a path; a directory only if empty, unless ``recursive``. Links are not followed."""
    status = assert_exists(path)
    try:
        if not stat.S_ISDIR(status.st_mode):
            os.unlink(path)
        elif recursive:
            _delete_tree(path)
        else:
            with os.scandir(path) as entries:
                if next(entries, None) is not None:
                    raise DirectoryNotEmptyError.from_adaptor(
                        ADAPTOR, f"Directory not empty: {path}"
                    )
            os.rmdir(path)
    except OSError as error:
        raise AdaptorError.from_adaptor(ADAPTOR, f"Failed to delete {path}") from error


def _delete_tree(root: str) -> None:
    """Delete a directory and everything in it, depth first, without following links."""
    stack = [(root, False)]
    while stack:
        folder, emptied = stack.pop()
        if emptied:
            os.rmdir(folder)
            continue
        stack.append((folder, True))
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, False))
                else:
                    os.unlink(entry.path)


def rename(source: str, target: str) -> None:
    """Rename ``source`` to ``target``; the same path is a no-op, even if it does not exist."""
    if source == target:
        return
    assert_exists(source)
    _assert_not_exists(target)
    assert_parent_directory(target)
    try:
        os.rename(source, target)
    except OSError as error:
        raise AdaptorError.from_adaptor(ADAPTOR, f"Failed to move {source} to {target}") from error


# Permissions -----------------------------------------------------------------


def set_permissions(path: str, mode: int) -> None:
    """Set exactly the permission bits ``mode`` (following a link)."""
    assert_exists(path)
    try:
        os.chmod(path, mode)
    except OSError as error:
        raise AdaptorError.from_adaptor(ADAPTOR, f"Failed to set permissions {path}") from error


# Reading and writing files ------------------------------------------------------------------


def open_for_reading(path: str) -> io.FileIO:
    """Open a regular file to read it.

    ``NoSuchPathError`` if it does not exist, ``InvalidPathError`` ``"Path is not a file:
    <path>"`` for a link (dangling or not), a directory, FIFO, device or socket. Never blocks
    on a FIFO.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError):
        raise no_such_path(path) from None
    except OSError as error:
        if error.errno == errno.ELOOP:  # a link
            raise _not_a_file(path) from None
        raise AdaptorError.from_adaptor(ADAPTOR, "Failed to create InputStream.") from error
    return _regular_file(fd, path, "rb")


def open_for_writing(path: str) -> io.FileIO:
    """Create a new file to write (``writeToFile``); it must not exist, not even as a link.

    ``PathAlreadyExistsError`` if it exists (a directory included), ``AdaptorError`` ``"Failed
    to create OutputStream."`` if it cannot be created (a missing parent, say).
    """
    _assert_not_exists(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except FileExistsError:
        raise PathAlreadyExistsError.from_adaptor(ADAPTOR, f"Path already exists: {path}") from None
    except OSError as error:
        raise AdaptorError.from_adaptor(ADAPTOR, "Failed to create OutputStream.") from error
    return io.FileIO(fd, "wb")


def open_for_appending(path: str) -> io.FileIO:
    """Open an existing regular file to append to it (``appendToFile``).

    ``NoSuchPathError`` if it does not exist, ``InvalidPathError`` ``"Path is not a file:
    <path>"`` if it is not a regular file (a link included). Never blocks on a FIFO.
    """
    try:
        status = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise no_such_path(path) from None
    except OSError as error:
        raise AdaptorError.from_adaptor(ADAPTOR, "Failed to create OutputStream.") from error
    if not stat.S_ISREG(status.st_mode):
        raise _not_a_file(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as error:
        if error.errno == errno.ELOOP:  # replaced by a link meanwhile
            raise _not_a_file(path) from None
        raise AdaptorError.from_adaptor(ADAPTOR, "Failed to create OutputStream.") from error
    return _regular_file(fd, path, "ab")


def _not_a_file(path: str) -> InvalidPathError:
    return InvalidPathError.from_adaptor(ADAPTOR, f"Path is not a file: {path}")


def _regular_file(fd: int, path: str, mode: str) -> io.FileIO:
    """Wrap ``fd`` if it is a regular file (else close it and fail); back to blocking mode."""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _not_a_file(path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return io.FileIO(fd, mode)


def write_all(file: io.FileIO, data: bytes) -> None:
    """Write all of ``data`` to ``file`` (a raw file may take less per write)."""
    view = memoryview(data)
    while view:
        written = file.write(view)
        view = view[written or 0 :]
