"""Paths in requests: turning a ``Path`` message into the local path it names.

The rules are the real server's (reference §5.2):

* ``Path.separator`` splits ``Path.path`` into names (empty or missing means ``/``; of a
  longer separator only the first character counts). Empty names (from ``//`` or a
  trailing separator) are dropped. A path that starts with the separator is absolute.
* A relative path is resolved against the file system's working directory.
* The result is absolute and normalised: no ``.``, no ``..`` (``..`` at the root stays at the
  root), no ``//``, no trailing slash. ``..`` is resolved by name, not by following links.
* Every ``Path`` the server returns is such a path, with ``separator: ""``.

Only ``list`` errors name a path *as the client gave it* (:func:`as_given`). A path with a NUL
character, which no local file can have, is ``InvalidPathError`` ``"file adaptor: Nul
character not allowed: <path, NUL shown as \\0>"`` (worded like Java's own check).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from rxxenon._errors import InvalidPathError
from rxxenon._proto import xenon_pb2 as pb

__all__ = [
    "ROOT",
    "as_given",
    "child",
    "is_dot_name",
    "normalise",
    "parent",
    "path_message",
    "resolve",
]

ROOT = "/"
_DEFAULT_SEPARATOR = "/"


def _separator(path: pb.Path) -> str:
    return path.separator[:1] or _DEFAULT_SEPARATOR


def _names(path: pb.Path) -> list[str]:
    return [name for name in path.path.split(_separator(path)) if name]


def _join(names: Iterable[str]) -> str:
    """Normalise a sequence of names from the root; each may still contain ``/``."""
    kept: list[str] = []
    for name in names:
        for part in name.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if kept:
                    kept.pop()
                continue
            kept.append(part)
    return ROOT + "/".join(kept)


def normalise(path: str) -> str:
    """An absolute local path (``/``-separated) without ``.``, ``..``, ``//`` or trailing ``/``."""
    return _join([path])


def resolve(path: pb.Path, working_directory: str) -> str:
    """The absolute, normalised local path a request's ``path`` names."""
    if "\0" in path.path:
        shown = path.path.replace("\0", "\\0")
        message = f"Nul character not allowed: {shown}"
        raise InvalidPathError.from_adaptor("file", message)
    names = _names(path)
    if path.path.startswith(_separator(path)):
        return _join(names)
    return _join([working_directory, *names])


def as_given(path: pb.Path) -> str:
    """The path as the client gave it, as the real server prints it in ``list`` errors.

    Its names joined by its own separator (so ``//`` and a trailing separator are gone), with
    a leading separator if it is absolute; ``.`` and ``..`` are kept.
    """
    separator = _separator(path)
    prefix = separator if path.path.startswith(separator) else ""
    return prefix + separator.join(_names(path))


def is_dot_name(path: pb.Path) -> bool:
    """Whether the last name the client gave is ``.`` or ``..`` (``delete`` ignores those)."""
    names = _names(path)
    return bool(names) and names[-1] in (".", "..")


def parent(path: str) -> str:
    """The parent of a normalised absolute path (the root is its own parent)."""
    return posixpath.dirname(path)


def child(directory: str, name: str) -> str:
    """The normalised absolute path of ``name`` inside the normalised ``directory``."""
    return directory + name if directory == ROOT else f"{directory}/{name}"


def path_message(path: str) -> pb.Path:
    """A ``Path`` message for a normalised absolute path, as the real server sends it."""
    return pb.Path(path=path, separator="")
