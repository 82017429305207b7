"""Stopping what still runs when the interpreter exits."""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref

__all__ = ["stop_at_exit"]

log = logging.getLogger(__name__)

#: What to stop at exit: a weak reference to each owner, and the name of its method. An
#: entry goes when its owner is garbage collected, so the table holds live owners only.
_owners: dict[int, tuple[weakref.ref[object], str]] = {}
_lock = threading.Lock()
_registered = False


def stop_at_exit(owner: object, method: str = "stop") -> None:
    """Call ``owner.<method>()`` when the interpreter exits, if ``owner`` is still alive then.

    The hook runs before the interpreter joins its non-daemon threads (the hook
    ``concurrent.futures`` uses for the same reason), while event-loop threads still run, so
    a server can kill its jobs instead of leaving them orphaned, and a non-daemon server
    thread does not keep the interpreter waiting for ever. Holds only a weak reference; one
    hook serves every owner, so many short-lived owners leave nothing behind.
    """
    global _registered
    key = id(owner)
    ref = weakref.ref(owner, lambda _: _owners.pop(key, None))
    with _lock:
        _owners[key] = (ref, method)
        if _registered:
            return
        register = getattr(threading, "_register_atexit", None)
        if register is None:
            return
        with contextlib.suppress(RuntimeError):  # the interpreter is already shutting down
            register(_stop_all)
            _registered = True


def _stop_all() -> None:
    """Stop the owners still alive, the latest first (as separate exit hooks would)."""
    with _lock:
        entries = list(_owners.values())
        _owners.clear()
    for ref, method in reversed(entries):
        alive = ref()
        if alive is None:
            continue
        try:
            getattr(alive, method)()
        except Exception:
            log.exception("stopping %r at exit failed", alive)
