"""File systems on a Xenon server.

Only the handle exists so far (what :meth:`Scheduler.get_file_system` returns); the
file-system operations and streams are a later addition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rxxenon._connection import Connection

__all__ = ["FileSystem"]


class FileSystem:
    """An open file system on a Xenon server, such as ``file://user@/home/user#123``."""

    def __init__(self, connection: Connection, filesystem_id: str) -> None:
        self.connection = connection
        self.id = filesystem_id

    def __repr__(self) -> str:
        return f"<FileSystem {self.id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileSystem) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)
