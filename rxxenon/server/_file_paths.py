"""Paths in requests: turning a ``Path`` message into the local path it names.

The rules are the real server's (reference §5.2):

* ``Path.separator`` splits ``Path.path`` into names (empty or missing means ``/``; of a
  longer separator only the first character counts). Empty names (from ``//`` or a
  trailing separator) are dropped. A path that starts with the separator is absolute. With
  a separator other than ``/``, a name that contains ``/`` is ``IllegalArgumentError``
  ``"Path element <name> contains separator '/'"`` (``INVALID_ARGUMENT``).
* A relative path is resolved against the file system's working directory.
* The result is absolute and normalised: no ``.``, no ``//``, no trailing slash, and each
  ``..`` removes the name before it, by name, not by following links. A ``..`` with nothing
  left to remove is kept: ``/..`` and ``/../tmp`` are paths of their own (the operating
  system takes them as ``/`` and ``/tmp``), as xenon-grpc has them.
* Every ``Path`` the server returns is such a path, with ``separator: ""``.

Only ``list`` errors name a path *as the client gave it* (:func:`as_given`). A path with a NUL
character, which no local file can have, fails where Java's own check fails it:
``INVALID_ARGUMENT "java.nio.file.InvalidPathException: Nul character not allowed:
//<absolute path>"`` (:func:`nul_error`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from rxxenon._errors import IllegalArgumentError, InvalidArgumentError
from rxxenon._proto import xenon_pb2 as pb

__all__ = [
    "ROOT",
    "as_given",
    "child",
    "normalise",
    "nul_error",
    "parent",
    "path_message",
    "resolve",
]

ROOT = "/"
_DEFAULT_SEPARATOR = "/"


def _separator(path: pb.Path) -> str:
    return path.separator[:1] or _DEFAULT_SEPARATOR


def _names(path: pb.Path) -> list[str]:
    separator = _separator(path)
    names = [name for name in path.path.split(separator) if name]
    if separator != _DEFAULT_SEPARATOR:
        for name in names:
            if _DEFAULT_SEPARATOR in name:
                message = f"Path element {name} contains separator '{_DEFAULT_SEPARATOR}'"
                raise IllegalArgumentError.from_message(message)
    return names


def _join(names: Iterable[str]) -> str:
    """Normalise a sequence of names from the root; each may still contain ``/``."""
    kept: list[str] = []
    for name in names:
        for part in name.split("/"):
            if part in ("", "."):
                continue
            if part == ".." and kept and kept[-1] != "..":
                kept.pop()
                continue
            kept.append(part)
    return ROOT + "/".join(kept)


def normalise(path: str) -> str:
    """An absolute local path (``/``-separated) without ``.``, ``..``, ``//`` or trailing ``/``."""
    return _join([path])


def resolve(path: pb.Path, working_directory: str, *, check_nul: bool = True) -> str:
    """The absolute, normalised local path a request's ``path`` names.

    Raises :func:`nul_error` for a path with a NUL character, unless ``check_nul`` is false
    (``copy`` fails in the copy's status instead).
    """
    names = _names(path)
    if path.path.startswith(_separator(path)):
        resolved = _join(names)
    else:
        resolved = _join([working_directory, *names])
    if check_nul and "\0" in resolved:
        raise nul_error(resolved)
    return resolved


def nul_error(path: str) -> InvalidArgumentError:
    """The error of a resolved path with a NUL character, worded as Java's path check."""
    message = f"Nul character not allowed: //{path}"
    return InvalidArgumentError(f"java.nio.file.InvalidPathException: {message}")


def as_given(path: pb.Path) -> str:
    """The path as the client gave it, as the real server prints it in ``list`` errors.

    Its names joined by its own separator (so ``//`` and a trailing separator are gone), with
    a leading separator if it is absolute; ``.`` and ``..`` are kept.
    """
    separator = _separator(path)
    prefix = separator if path.path.startswith(separator) else ""
    return prefix + separator.join(_names(path))


def parent(path: str) -> str:
    """The parent of a normalised absolute path (the root is its own parent)."""
    return posixpath.dirname(path)


def child(directory: str, name: str) -> str:
    """The normalised absolute path of ``name`` inside the normalised ``directory``."""
    return directory + name if directory == ROOT else f"{directory}/{name}"


def path_message(path: str) -> pb.Path:
    """A ``Path`` message for a normalised absolute path, as the real server sends it."""
    return pb.Path(path=path, separator="")
