"""Finding the xenon-grpc jar and a Java runtime to run it.

The jar is not part of rxxenon. ``pip install 'rxxenon[xenon-grpc]'`` installs PyXenon 3.0.3,
whose package data puts ``xenon-grpc-3.0.1.jar`` into ``<prefix>/lib`` (the jar is inside
PyXenon's sdist on PyPI; rxxenon never imports PyXenon's own Python package). Or point
``RXXENON_XENON_GRPC_JAR`` at a jar, or at a directory holding one.
"""

from __future__ import annotations

import os
import re
import shutil
import site
import sys
from pathlib import Path

from rxxenon.xenon_grpc._errors import JavaNotFoundError, XenonGrpcNotFoundError

__all__ = [
    "JAR_ENV",
    "find_jar",
    "find_java",
    "jar_search_dirs",
    "jar_version",
]

#: The environment variable naming the jar (or a directory with ``xenon-grpc-*.jar`` in it).
JAR_ENV = "RXXENON_XENON_GRPC_JAR"

#: How to get the jar, for error messages.
JAR_HINT = (
    "install it with `pip install 'rxxenon[xenon-grpc]'` (PyXenon 3.0.3 ships "
    f"xenon-grpc-3.0.1.jar), or set {JAR_ENV} to the jar's path"
)

#: How to get Java, for error messages.
JAVA_HINT = (
    "install a Java runtime, version 8 or later (Debian/Ubuntu: "
    "`apt-get install --no-install-recommends openjdk-17-jre-headless`), put `java` on PATH "
    "or set JAVA_HOME"
)

_JAR_GLOB = "xenon-grpc-*.jar"
_JAR_NAME = re.compile(r"^xenon-grpc-(\d+(?:\.\d+)*)(?:[-.+][^/]*)?\.jar$")
_JAVA = "java.exe" if os.name == "nt" else "java"


def jar_version(path: str | os.PathLike[str]) -> tuple[int, ...]:
    """The version in a jar's file name (``xenon-grpc-3.0.1.jar`` gives ``(3, 0, 1)``).

    A name without a version gives ``()``, which sorts before every version.
    """
    match = _JAR_NAME.match(Path(path).name)
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def jar_search_dirs() -> list[Path]:
    """Where ``pip install pyxenon`` may have put the jar, in the order they are preferred.

    ``lib`` and ``local/lib`` under ``sys.prefix`` (the virtualenv), ``sys.base_prefix``
    (the Python installation) and the user base (``pip install --user``), as PyXenon searched.
    """
    dirs: list[Path] = []
    for prefix in (sys.prefix, sys.base_prefix, site.getuserbase()):
        for sub in (("lib",), ("local", "lib")):
            candidate = Path(prefix, *sub)
            if candidate not in dirs:
                dirs.append(candidate)
    return dirs


def _newest_in(directory: Path) -> Path | None:
    jars = sorted(
        (jar for jar in directory.glob(_JAR_GLOB) if jar.is_file()), key=jar_version, reverse=True
    )
    return jars[0] if jars else None


def _given_jar(path: Path, origin: str) -> Path:
    path = path.expanduser()
    if path.is_dir():
        jar = _newest_in(path)
        if jar is None:
            raise XenonGrpcNotFoundError(
                f"{origin} is the directory {path}, which holds no {_JAR_GLOB}; {JAR_HINT}"
            )
        return jar.absolute()
    if path.is_file():
        return path.absolute()
    raise XenonGrpcNotFoundError(f"{origin} is {path}, which does not exist; {JAR_HINT}")


def find_jar(path: str | os.PathLike[str] | None = None) -> Path:
    """The xenon-grpc jar to run.

    Looks, in this order, at:

    1. ``path``, when given: a jar, or a directory whose newest ``xenon-grpc-*.jar`` is taken;
    2. the environment variable ``RXXENON_XENON_GRPC_JAR`` (same forms), when set and not
       empty;
    3. the directories of :func:`jar_search_dirs`, taking the newest version found in any
       (the first directory wins a tie).

    A given path or variable that leads nowhere is an error; the search does not go on past
    it, so a typo is not hidden by an older jar elsewhere.

    Raises:
        XenonGrpcNotFoundError: no jar; the message says what was searched and what to
            install.
    """
    if path is not None:
        return _given_jar(Path(path), "the jar path given")
    from_env = os.environ.get(JAR_ENV)
    if from_env:
        return _given_jar(Path(from_env), f"${JAR_ENV}")
    dirs = jar_search_dirs()
    found = [jar for jar in map(_newest_in, dirs) if jar is not None]
    if not found:
        searched = ", ".join(str(d) for d in dirs)
        raise XenonGrpcNotFoundError(f"no {_JAR_GLOB} found (searched {searched}); {JAR_HINT}")
    # max() keeps the first of equal versions: the earlier directory wins.
    return max(found, key=jar_version).absolute()


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_java(java: str | os.PathLike[str] | None = None) -> Path:
    """The ``java`` executable to run the jar with.

    Looks, in this order, at:

    1. ``java``, when given: a path to the executable, or a command name looked up on PATH;
    2. ``$JAVA_HOME/bin/java``, when ``JAVA_HOME`` is set and not empty;
    3. ``java`` on PATH.

    A given ``java`` or a ``JAVA_HOME`` without a usable ``bin/java`` is an error (the search
    does not fall through to PATH, which would run a Java the caller did not choose).

    Raises:
        JavaNotFoundError: no usable Java; the message says what to install.
    """
    if java is not None:
        text = os.fspath(java)
        given = Path(text).expanduser()
        if os.sep in text or (os.altsep and os.altsep in text):  # a path, not a command name
            if _executable(given):
                return given.absolute()
            raise JavaNotFoundError(f"the Java given, {given}, is not an executable file")
        on_path = shutil.which(text)
        if on_path is None:
            raise JavaNotFoundError(f"the Java command {text!r} is not on PATH; {JAVA_HINT}")
        return Path(on_path).absolute()
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home, "bin", _JAVA).expanduser()
        if _executable(candidate):
            return candidate.absolute()
        raise JavaNotFoundError(
            f"JAVA_HOME is {java_home}, but {candidate} is not an executable file; fix or "
            f"unset JAVA_HOME, or {JAVA_HINT}"
        )
    on_path = shutil.which(_JAVA)
    if on_path is None:
        raise JavaNotFoundError(f"no `java` on PATH and JAVA_HOME is not set; {JAVA_HINT}")
    return Path(on_path).absolute()
