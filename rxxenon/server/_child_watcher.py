"""Reaping job processes without a thread per child, on Python 3.11.

Python 3.11's default child watcher (``ThreadedChildWatcher``) spends a thread per live
child: 400 threads for 400 jobs. Its ``PidfdChildWatcher`` has none, but is bound to one
event loop, while one process may run several (the embedded server's, a client's, a test's).
:func:`install_child_watcher` installs a pidfd watcher that lets the loop that started each
child watch it, as Python 3.12's does. On 3.12+ asyncio already does this by default (and
deprecates the child-watcher API), so nothing is installed there.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVarTuple

__all__ = ["install_child_watcher"]

_watcher_lock = threading.Lock()
_Ts = TypeVarTuple("_Ts")


def install_child_watcher() -> None:
    """On Python 3.11 with pidfds, replace the default thread-per-child watcher.

    Does nothing on 3.12+, where ``os.pidfd_open`` is missing, or when someone already
    installed a watcher other than the default. Idempotent and thread-safe.
    """
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    with _watcher_lock:
        current = asyncio.get_child_watcher()
        if type(current) is asyncio.ThreadedChildWatcher:
            asyncio.set_child_watcher(_AnyLoopPidfdChildWatcher())


if sys.version_info < (3, 12):  # defining a subclass warns on 3.12+, where it is not needed

    class _AnyLoopPidfdChildWatcher(asyncio.PidfdChildWatcher):
        """A pidfd child watcher for any number of loops: each child is watched by its own."""

        def __init__(self) -> None:
            super().__init__()
            self._lock = threading.Lock()
            self._watched: dict[int, tuple[asyncio.AbstractEventLoop, int]] = {}

        def is_active(self) -> bool:
            return True

        def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
            """Nothing to attach: children are watched by the loop that starts them."""

        def close(self) -> None:
            """Nothing to close: each watched child's pidfd closes when it is reaped."""

        def add_child_handler(
            self, pid: int, callback: Callable[[int, int, *_Ts], object], *args: *_Ts
        ) -> None:
            loop = asyncio.get_running_loop()
            pidfd = os.pidfd_open(pid)
            with self._lock:
                self._watched[pid] = (loop, pidfd)
            loop.add_reader(pidfd, self._reap, pid, callback, args)

        def remove_child_handler(self, pid: int) -> bool:
            """Stop watching ``pid`` (call it on the loop that started the child)."""
            with self._lock:
                entry = self._watched.pop(pid, None)
            if entry is None:
                return False
            loop, pidfd = entry
            loop.remove_reader(pidfd)
            os.close(pidfd)
            return True

        def _reap(self, pid: int, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
            with self._lock:
                entry = self._watched.pop(pid, None)
            if entry is None:
                return
            loop, pidfd = entry
            loop.remove_reader(pidfd)
            os.close(pidfd)
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:  # reaped elsewhere; asyncio reports 255 in this case too
                returncode = 255
            else:
                returncode = os.waitstatus_to_exitcode(status)
            callback(pid, returncode, *args)
