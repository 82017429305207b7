"""The xenon-grpc JVM as a child process: its output into ``logging``, its port, its end.

What the server prints (observed with xenon-grpc 3.0.1 on OpenJDK 17):

* stdout carries logback lines, ``HH:MM:SS.mmm [thread] LEVEL logger - message``, with
  stack traces on the lines after. Verbosity 0 shows ERROR only; each ``-v`` one level more
  (WARN, INFO, DEBUG, TRACE). ``Server started, listening on port N`` is logged at ERROR
  *before* the server binds, with the port as given (``0`` for ``--port 0``), so it neither
  means that the server is up nor tells the port; it is re-levelled to INFO here.
* stderr carries uncaught exceptions (``java.io.IOException: Failed to bind`` when the port
  is taken, after which the JVM exits with status 1) and, on SIGTERM, two ``*** ...`` lines
  from the server's shutdown hook.
* On SIGTERM the JVM exits (status 143) **leaving the jobs of its local schedulers running**,
  orphaned. The JVM is therefore started in a session (and process group) of its own, and
  stopping it signals that whole group: the server and the local jobs it started, nothing
  else.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO

__all__ = [
    "JavaServerProcess",
    "listening_ports",
    "pick_free_port",
    "poll_until",
    "port_discovery_supported",
]

logger = logging.getLogger("rxxenon.xenon_grpc")

_LOGBACK = re.compile(
    r"^\d\d:\d\d:\d\d\.\d{3} \[(?P<thread>[^\]]*)\] "
    r"(?P<level>TRACE|DEBUG|INFO|WARN|ERROR)\s+(?P<message>.*)$"
)
_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
}
#: Messages the server logs at ERROR although nothing is wrong.
_NOT_ERRORS = ("XenonServerWrapper - Server started, listening on port ",)

#: Seconds between two looks at a condition that cannot be waited for directly.
POLL_INTERVAL = 0.01


def poll_until(condition: Callable[[], bool], deadline: float | None) -> bool:
    """Look at ``condition`` every 10 ms until it holds (True) or ``deadline`` passes (False).

    ``deadline`` is a ``time.monotonic()`` value; None waits as long as it takes.
    """
    while not condition():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL)
    return True


class _StdoutLevels:
    """The logging level and text of each stdout line; stack-trace lines keep their entry's
    level."""

    def __init__(self) -> None:
        self._level = logging.INFO

    def __call__(self, line: str) -> tuple[int, str]:
        match = _LOGBACK.match(line)
        if match is None:
            return self._level, line
        level = _LEVELS[match["level"]]
        message = match["message"]
        if level == logging.ERROR and any(text in message for text in _NOT_ERRORS):
            level = logging.INFO
        self._level = level
        return level, f"[{match['thread']}] {message}"


def _stderr_level(line: str) -> tuple[int, str]:
    # "*** shutting down gRPC server since JVM is shutting down" / "*** server shut down"
    return (logging.INFO if line.startswith("*** ") else logging.WARNING), line


class JavaServerProcess:
    """One xenon-grpc JVM, started at construction in a session of its own.

    Two daemon threads read its stdout and stderr line by line into the logger
    ``rxxenon.xenon_grpc`` (see the module docstring for the levels) and keep the last lines
    for error messages. :meth:`stop` ends the process group, reaps the JVM and joins the
    threads.
    """

    def __init__(self, argv: Sequence[str], *, tail_lines: int = 60) -> None:
        self.argv = list(argv)
        self._tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._lock = threading.Lock()
        self._popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.pid = self._popen.pid
        assert self._popen.stdout is not None
        assert self._popen.stderr is not None
        self._readers = [
            self._reader(self._popen.stdout, "stdout", _StdoutLevels()),
            self._reader(self._popen.stderr, "stderr", _stderr_level),
        ]

    def _reader(
        self, stream: IO[bytes], name: str, levels: Callable[[str], tuple[int, str]]
    ) -> threading.Thread:
        def read() -> None:
            with stream:
                for raw in iter(stream.readline, b""):
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    self._tail.append(line)
                    level, text = levels(line)
                    logger.log(level, "xenon-grpc[%d] %s", self.pid, text)

        thread = threading.Thread(
            target=read, name=f"rxxenon-xenon-grpc-{self.pid}-{name}", daemon=True
        )
        thread.start()
        return thread

    def tail(self) -> list[str]:
        """The last lines the process printed (stdout and stderr, in arrival order)."""
        return list(self._tail)

    @property
    def returncode(self) -> int | None:
        """The exit status once reaped by :meth:`stop` (negative: killed by that signal)."""
        return self._popen.returncode

    def exited(self) -> bool:
        """Whether the JVM has exited. Does not reap it, so its pid (and process group id)
        cannot be reused until :meth:`stop`."""
        if self._popen.returncode is not None:
            return True
        waitid = getattr(os, "waitid", None)
        if waitid is None:  # no non-reaping wait here: reap
            return self._popen.poll() is not None
        try:
            return waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:  # reaped elsewhere
            return True

    def _signal_group(self, signum: int) -> None:
        # While the JVM is not reaped its pid stays taken, so the group id is still ours.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def stop(self, grace: float = 5.0, join_timeout: float = 5.0) -> int:
        """End the server and the local jobs it started; return the JVM's exit status.

        Sends SIGTERM to the process group, gives the JVM ``grace`` seconds to run its shutdown
        hook and exit, then SIGKILLs it if needed; SIGKILLs whatever is left in the group (the
        JVM leaves its local jobs running); reaps the JVM; joins the output readers.
        Idempotent.
        """
        with self._lock:
            if self._popen.returncode is None:
                if not self.exited():
                    self._signal_group(signal.SIGTERM)
                    if not poll_until(self.exited, time.monotonic() + grace):
                        logger.warning(
                            "xenon-grpc[%d] did not exit within %s s of SIGTERM; killing it",
                            self.pid,
                            grace,
                        )
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(self.pid, signal.SIGKILL)
                self._signal_group(signal.SIGKILL)
                self._popen.wait()
            for reader in self._readers:
                reader.join(join_timeout)
                if reader.is_alive():
                    logger.warning(
                        "xenon-grpc[%d]: %s still open after the server exited",
                        self.pid,
                        reader.name,
                    )
            return self._popen.returncode


def port_discovery_supported() -> bool:
    """Whether :func:`listening_ports` can tell a process's ports here (Linux ``/proc``)."""
    return sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")


def listening_ports(pid: int) -> set[int] | None:
    """The TCP ports process ``pid`` listens on, read from ``/proc`` (Linux).

    Matches the socket inodes among the process's open files with the LISTEN entries of its
    network namespace's ``tcp`` and ``tcp6`` tables. Returns None when that cannot be read
    here (not Linux, or no permission), an empty set when the process listens on nothing
    (yet) or is gone.
    """
    if not port_discovery_supported():
        return None
    fd_dir = f"/proc/{pid}/fd"
    inodes: set[str] = set()
    try:
        entries = os.listdir(fd_dir)
    except FileNotFoundError:
        return set()
    except PermissionError:
        return None
    for entry in entries:
        try:
            target = os.readlink(os.path.join(fd_dir, entry))
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as file:
                lines = file.readlines()[1:]
        except OSError:  # no IPv6, or the process is gone
            continue
        for line in lines:
            fields = line.split()
            # sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            if len(fields) > 9 and fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def pick_free_port() -> int:
    """A TCP port that was free on every interface a moment ago (it may be taken by now)."""
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        address: tuple[str, int] = ("::", 0)
    except OSError:  # no IPv6
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address = ("", 0)
    with probe:
        probe.bind(address)
        port: int = probe.getsockname()[1]
        return port
