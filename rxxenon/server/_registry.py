"""The handles a server hands out: open schedulers and file systems, by id.

Ids look like the real server's: ``"<adaptor>://<user>@<location>#<hash>"``, where the hash
stands in for a Java identity hash code: a signed 32-bit int (it can be negative), never
reused by this registry, so a stale handle never names a newer instance.

File systems are listed here when ``FileSystemService`` creates them (``create``,
``localFileSystems``) and when ``SchedulerService.getFileSystem`` first hands out a scheduler's
own file system; closing one removes it from the list.
"""

from __future__ import annotations

import os
import pwd
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rxxenon._errors import NoSuchFileSystemError, NoSuchSchedulerError
from rxxenon.server._copies import CopyQueue
from rxxenon.server._file_paths import normalise

if TYPE_CHECKING:
    from rxxenon.server._local_scheduler import LocalScheduler

__all__ = ["FileSystemRecord", "Registry", "os_user"]


def os_user() -> str:
    """The name of the user the server runs as."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid without a passwd entry (some containers)
        return str(os.geteuid())


@dataclass
class FileSystemRecord:
    """An open file system: what ``FileSystemService`` serves.

    Attributes:
        id: the handle, ``file://<user>@<location>#<hash>``.
        adaptor: the file-system adaptor name (``file``).
        location: the location it was opened at (the server's cwd for an empty location).
        username: the user named in the id.
        working_directory: the directory relative paths start from (absolute, normalised).
        properties: the properties it was created with.
        copies: its copies (``copy``, ``getStatus``, ``waitUntilDone``, ``cancel``).
    """

    id: str
    adaptor: str
    location: str
    username: str
    working_directory: str
    properties: dict[str, str] = field(default_factory=dict)
    copies: CopyQueue = field(default_factory=CopyQueue)


class Registry:
    """Open schedulers and file systems of one server, by id. Used on the server's loop only."""

    def __init__(self) -> None:
        self._schedulers: dict[str, LocalScheduler] = {}
        self._filesystems: dict[str, FileSystemRecord] = {}
        self._used_hashes: set[int] = set()
        self._random = random.Random()

    def new_hash(self) -> int:
        """A fresh signed 32-bit number for an id, never handed out before by this registry."""
        while True:
            value = self._random.randrange(-(2**31), 2**31)
            if value not in self._used_hashes:
                self._used_hashes.add(value)
                return value

    def new_file_system(
        self, location: str, username: str, properties: Mapping[str, str] | None = None
    ) -> FileSystemRecord:
        """A ``file`` file system at ``location`` (the server's cwd if empty), not yet listed.

        ``location`` must be empty or absolute; it is kept as given (in the id and
        ``getLocation``) and its normalised form is the first working directory.
        """
        path = location or os.getcwd()
        return FileSystemRecord(
            id=f"file://{username}@{path}#{self.new_hash()}",
            adaptor="file",
            location=path,
            username=username,
            working_directory=normalise(path),
            properties=dict(properties or {}),
        )

    # Schedulers ---------------------------------------------------------------------------

    def add_scheduler(self, scheduler: LocalScheduler) -> None:
        """List an open scheduler under its id."""
        self._schedulers[scheduler.id] = scheduler

    def scheduler(self, scheduler_id: str) -> LocalScheduler:
        """The open scheduler with this id; :class:`NoSuchSchedulerError` if there is none."""
        try:
            return self._schedulers[scheduler_id]
        except KeyError:
            raise NoSuchSchedulerError(NoSuchSchedulerError.details_prefix + scheduler_id) from None

    def remove_scheduler(self, scheduler_id: str) -> LocalScheduler:
        """Forget an open scheduler; :class:`NoSuchSchedulerError` if there is none."""
        scheduler = self.scheduler(scheduler_id)
        del self._schedulers[scheduler_id]
        return scheduler

    def schedulers(self) -> list[LocalScheduler]:
        """Every open scheduler, oldest first."""
        return list(self._schedulers.values())

    # File systems -------------------------------------------------------------------------

    def add_file_system(self, record: FileSystemRecord) -> None:
        """List a file system under its id (again listing the same record is harmless)."""
        self._filesystems[record.id] = record

    def file_system(self, filesystem_id: str) -> FileSystemRecord:
        """The open file system with this id; :class:`NoSuchFileSystemError` if there is none."""
        try:
            return self._filesystems[filesystem_id]
        except KeyError:
            raise NoSuchFileSystemError(
                NoSuchFileSystemError.details_prefix + filesystem_id
            ) from None

    def remove_file_system(self, filesystem_id: str) -> FileSystemRecord:
        """Forget an open file system; :class:`NoSuchFileSystemError` if there is none."""
        record = self.file_system(filesystem_id)
        del self._filesystems[filesystem_id]
        return record

    def file_systems(self) -> list[FileSystemRecord]:
        """Every open file system, in the order they were listed."""
        return list(self._filesystems.values())
