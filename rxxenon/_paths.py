"""Typed file-system values: paths, attributes, permissions, copy modes and statuses."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from rxxenon._proto import xenon_pb2 as pb

__all__ = [
    "CopyErrorType",
    "CopyMode",
    "CopyStatus",
    "Path",
    "PathAttributes",
    "PathLike",
    "PosixFilePermission",
    "path_message",
]


class Path(PurePosixPath):
    """A path on a Xenon file system: a ``PurePosixPath`` (and so ``os.PathLike``).

    Relative paths are resolved by the server against the file system's working directory.
    Every method that asks for a path also takes a ``str`` or any ``os.PathLike``.
    """


PathLike = str | os.PathLike[str]


def path_message(path: PathLike) -> pb.Path:
    """The wire form of a path (separator ``/``)."""
    return pb.Path(path=os.fspath(path), separator="/")


class PosixFilePermission(enum.Enum):
    """One POSIX permission bit."""

    OWNER_READ = pb.OWNER_READ
    OWNER_WRITE = pb.OWNER_WRITE
    OWNER_EXECUTE = pb.OWNER_EXECUTE
    GROUP_READ = pb.GROUP_READ
    GROUP_WRITE = pb.GROUP_WRITE
    GROUP_EXECUTE = pb.GROUP_EXECUTE
    OTHERS_READ = pb.OTHERS_READ
    OTHERS_WRITE = pb.OTHERS_WRITE
    OTHERS_EXECUTE = pb.OTHERS_EXECUTE

    @classmethod
    def from_mode(cls, mode: int) -> frozenset[PosixFilePermission]:
        """The permissions in the low nine bits of ``mode`` (``0o750``, ``st_mode``...)."""
        return frozenset(p for p, bit in zip(cls, _BITS, strict=True) if mode & bit)

    @staticmethod
    def to_mode(permissions: frozenset[PosixFilePermission] | set[PosixFilePermission]) -> int:
        """The mode bits of a set of permissions."""
        return sum(
            bit for p, bit in zip(PosixFilePermission, _BITS, strict=True) if p in permissions
        )


_BITS = (0o400, 0o200, 0o100, 0o040, 0o020, 0o010, 0o004, 0o002, 0o001)


def _datetime(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)


@dataclass(frozen=True)
class PathAttributes:
    """What a file system says about one path.

    Times are timezone-aware datetimes (UTC), from the servers' milliseconds since the
    epoch. ``size`` is 0 for directories and links on the ``file`` adaptor. ``permissions`` is a
    frozenset (empty where the adaptor cannot read permissions).
    """

    path: Path
    size: int
    is_directory: bool
    is_regular: bool
    is_symbolic_link: bool
    is_other: bool
    is_hidden: bool
    is_readable: bool
    is_writable: bool
    is_executable: bool
    owner: str
    group: str
    permissions: frozenset[PosixFilePermission]
    creation_time: datetime
    last_modified_time: datetime
    last_access_time: datetime

    @property
    def mode(self) -> int:
        """The permission bits as a number (``0o644``...)."""
        return PosixFilePermission.to_mode(self.permissions)

    @classmethod
    def from_proto(cls, message: pb.PathAttributes) -> PathAttributes:
        """Read the wire form."""
        return cls(
            path=Path(message.path.path),
            size=message.size,
            is_directory=message.is_directory,
            is_regular=message.is_regular,
            is_symbolic_link=message.is_symbolic_link,
            is_other=message.is_other,
            is_hidden=message.is_hidden,
            is_readable=message.is_readable,
            is_writable=message.is_writable,
            is_executable=message.is_executable,
            owner=message.owner,
            group=message.group,
            permissions=frozenset(
                PosixFilePermission(p) for p in message.permissions if p != pb.NONE
            ),
            creation_time=_datetime(message.creation_time),
            last_modified_time=_datetime(message.last_modified_time),
            last_access_time=_datetime(message.last_access_time),
        )


class CopyMode(enum.Enum):
    """What a copy does when the destination exists."""

    #: Fail with PathAlreadyExistsError.
    CREATE = pb.CopyRequest.CREATE
    #: Overwrite it.
    REPLACE = pb.CopyRequest.REPLACE
    #: Leave it and do nothing.
    IGNORE = pb.CopyRequest.IGNORE


class CopyErrorType(enum.Enum):
    """Why a copy failed (:attr:`CopyStatus.error_type`)."""

    NONE = pb.CopyStatus.NONE
    NOT_FOUND = pb.CopyStatus.NOT_FOUND
    CANCELLED = pb.CopyStatus.CANCELLED
    ALREADY_EXISTS = pb.CopyStatus.ALREADY_EXISTS
    NOT_CONNECTED = pb.CopyStatus.NOT_CONNECTED
    XENON = pb.CopyStatus.XENON


@dataclass(frozen=True)
class CopyStatus:
    """Progress and outcome of a copy.

    ``bytes_to_copy`` is what the server reports: the real xenon-grpc says 0 for a single
    file and the total for a recursive copy.
    """

    copy_id: str
    state: str
    running: bool
    done: bool
    bytes_copied: int
    bytes_to_copy: int
    error_type: CopyErrorType
    error_message: str

    @property
    def succeeded(self) -> bool:
        """Done without error."""
        return self.done and self.error_type is CopyErrorType.NONE

    @classmethod
    def from_proto(cls, message: pb.CopyStatus) -> CopyStatus:
        """Read the wire form."""
        return cls(
            copy_id=message.copy_operation.id,
            state=message.state,
            running=message.running,
            done=message.done,
            bytes_copied=message.bytes_copied,
            bytes_to_copy=message.bytes_to_copy,
            error_type=CopyErrorType(message.error_type),
            error_message=message.error_message,
        )
