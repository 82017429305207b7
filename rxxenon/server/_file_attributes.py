"""What ``getAttributes`` and ``list`` say about local paths (reference §5.4 and §5.5).

Every function here blocks (callers run them with
:func:`~rxxenon.server._blocking.run_blocking`) and takes absolute normalised paths. Links are
not followed, except for ``is_readable``, ``is_writable`` and ``is_executable``, which say
what the server may do through the path, as the operating system decides it (``os.access``).

``creation_time`` is the birth time Linux keeps (``statx``), as Java 11+ reports it to
xenon-grpc: 0 where the file system records a birth time of 0 (files of an overlay's lower
layer), and the modification time where it records none.
"""

from __future__ import annotations

import ctypes
import functools
import grp
import os
import pwd
import stat
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import cast

from rxxenon._errors import AdaptorError, InvalidPathError, NoSuchPathError
from rxxenon.server._file_paths import child
from rxxenon.server._local_files import ADAPTOR, assert_exists, lstat

__all__ = ["PERMISSION_BITS", "Attributes", "attributes", "list_directory"]

#: The nine permission bits, in ``PosixFilePermission`` order (OWNER_READ ... OTHERS_EXECUTE).
PERMISSION_BITS: tuple[int, ...] = (0o400, 0o200, 0o100, 0o040, 0o020, 0o010, 0o004, 0o002, 0o001)


@dataclass(frozen=True)
class Attributes:
    """What ``getAttributes`` and ``list`` say about one path (reference §5.4).

    Attributes:
        path: the absolute normalised path.
        is_directory, is_regular, is_symbolic_link, is_other: the kind of the path itself
            (a link is only a link); ``is_other`` is anything else (FIFO, socket, device).
        is_hidden: the name starts with ``.``.
        is_readable, is_writable, is_executable: what the server may do with it, following
            links (a dangling link is none of them).
        size: bytes, for regular files; 0 for everything else.
        owner, group: names (the number if the id has no name).
        creation_time, last_access_time, last_modified_time: milliseconds since the epoch;
            ``creation_time`` is the birth time (see the module docstring).
        permissions: the nine permission bits of the path itself (a link's own, from lstat).
    """

    path: str
    is_directory: bool
    is_regular: bool
    is_symbolic_link: bool
    is_other: bool
    is_hidden: bool
    is_readable: bool
    is_writable: bool
    is_executable: bool
    size: int
    owner: str
    group: str
    creation_time: int
    last_access_time: int
    last_modified_time: int
    permissions: int


@functools.lru_cache(maxsize=256)
def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@functools.lru_cache(maxsize=256)
def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


class _Timestamp(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_int64), ("nsec", ctypes.c_uint32), ("_reserved", ctypes.c_int32)]


class _Statx(ctypes.Structure):
    """``struct statx`` (linux/stat.h), 256 bytes."""

    _fields_ = [
        ("mask", ctypes.c_uint32),
        ("blksize", ctypes.c_uint32),
        ("attributes", ctypes.c_uint64),
        ("nlink", ctypes.c_uint32),
        ("uid", ctypes.c_uint32),
        ("gid", ctypes.c_uint32),
        ("mode", ctypes.c_uint16),
        ("_spare0", ctypes.c_uint16),
        ("ino", ctypes.c_uint64),
        ("size", ctypes.c_uint64),
        ("blocks", ctypes.c_uint64),
        ("attributes_mask", ctypes.c_uint64),
        ("atime", _Timestamp),
        ("btime", _Timestamp),
        ("ctime", _Timestamp),
        ("mtime", _Timestamp),
        ("_devices", ctypes.c_uint32 * 4),
        ("_spare", ctypes.c_uint64 * 14),
    ]


_AT_FDCWD = -100
_AT_SYMLINK_NOFOLLOW = 0x100
_STATX_BTIME = 0x800


@functools.cache
def _statx() -> Callable[..., int] | None:
    """glibc's ``statx`` (2.28 and later), or None."""
    try:
        function = ctypes.CDLL(None, use_errno=True).statx
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_Statx),
    ]
    function.restype = ctypes.c_int
    return cast(Callable[..., int], function)


def _birth_time_ms(path: str, modified_ms: int) -> int:
    """The birth time of ``path`` itself in ms (``modified_ms`` if the system keeps none)."""
    statx = _statx()
    if statx is None:
        return modified_ms
    result = _Statx()
    flags = _AT_SYMLINK_NOFOLLOW
    if statx(_AT_FDCWD, os.fsencode(path), flags, _STATX_BTIME, ctypes.byref(result)) != 0:
        return modified_ms
    if not result.mask & _STATX_BTIME:
        return modified_ms
    return int(result.btime.sec) * 1000 + int(result.btime.nsec) // 1_000_000


def _attributes(path: str, status: os.stat_result) -> Attributes:
    mode = status.st_mode
    is_directory = stat.S_ISDIR(mode)
    is_regular = stat.S_ISREG(mode)
    is_link = stat.S_ISLNK(mode)
    modified = status.st_mtime_ns // 1_000_000
    return Attributes(
        path=path,
        is_directory=is_directory,
        is_regular=is_regular,
        is_symbolic_link=is_link,
        is_other=not (is_directory or is_regular or is_link),
        is_hidden=os.path.basename(path).startswith("."),
        is_readable=os.access(path, os.R_OK),
        is_writable=os.access(path, os.W_OK),
        is_executable=os.access(path, os.X_OK),
        size=status.st_size if is_regular else 0,
        owner=_user_name(status.st_uid),
        group=_group_name(status.st_gid),
        creation_time=_birth_time_ms(path, modified),
        last_access_time=status.st_atime_ns // 1_000_000,
        last_modified_time=modified,
        permissions=stat.S_IMODE(mode) & 0o777,
    )


def attributes(path: str) -> Attributes:
    """``getAttributes``: the attributes of the path itself (a link is not followed)."""
    return _attributes(path, assert_exists(path))


def list_directory(path: str, given: str, recursive: bool) -> Generator[Attributes, None, None]:
    """``list``: the entries of ``path`` in raw directory order, the directory itself excluded.

    Recursive: first every entry of the directory, then the contents of each subdirectory in
    turn (depth first); links to directories are listed but not descended into. Errors about
    the directory itself name it ``given`` (the path as the client gave it). Entries are
    produced as the directories are read; only the names of subdirectories still to list are
    kept, never the listing.
    """
    status = lstat(path)
    if status is None:
        raise NoSuchPathError.from_adaptor(ADAPTOR, f"Path does not exist: {given}")
    if not stat.S_ISDIR(status.st_mode):
        raise InvalidPathError.from_adaptor(ADAPTOR, f"Path is not a directory: {given}")
    pending: list[Iterator[str]] = []
    folder: str | None = path
    while folder is not None:
        subfolders: list[str] = []
        yield from _list_one(folder, subfolders)
        if recursive:
            pending.append(iter(subfolders))
        folder = None
        while pending and folder is None:
            folder = next(pending[-1], None)
            if folder is None:
                pending.pop()


def _list_one(folder: str, subfolders: list[str]) -> Iterator[Attributes]:
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                entry_path = child(folder, entry.name)
                status = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(status.st_mode):
                    subfolders.append(entry_path)
                yield _attributes(entry_path, status)
    except OSError as error:
        raise AdaptorError.from_adaptor(ADAPTOR, f"Failed to list directory: {folder}") from error
