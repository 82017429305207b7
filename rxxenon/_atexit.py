"""Stopping what still runs when the interpreter exits."""

from __future__ import annotations

import contextlib
import threading
import weakref

__all__ = ["stop_at_exit"]


def stop_at_exit(owner: object, method: str = "stop") -> None:
    """Call ``owner.<method>()`` when the interpreter exits, if ``owner`` is still alive then.

    The hook runs before the interpreter joins its non-daemon threads (the hook
    ``concurrent.futures`` uses for the same reason), while event-loop threads still run, so
    a server can kill its jobs instead of leaving them orphaned, and a non-daemon server
    thread does not keep the interpreter waiting for ever. Holds only a weak reference.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is None:
        return
    ref = weakref.ref(owner)

    def stop() -> None:
        alive = ref()
        if alive is not None:
            getattr(alive, method)()

    with contextlib.suppress(RuntimeError):  # the interpreter is already shutting down
        register(stop)
