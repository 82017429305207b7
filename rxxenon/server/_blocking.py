"""Running blocking file I/O off the event loop.

File-system calls (``stat``, ``mkdir``, reading and writing files, walking trees) block, and
on a slow disk or a network mount they can block for long. The server's one event loop also
serves every interactive job, so file I/O runs in the loop's default executor (a small thread
pool shared by all calls), never on the loop and never in a thread of its own per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, Protocol, TypeVar

__all__ = ["open_blocking", "run_blocking"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


class _Closable(Protocol):
    def close(self) -> None: ...


_C = TypeVar("_C", bound=_Closable | None)


async def run_blocking(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run ``function`` in the default executor and return (or raise) what it does.

    If the caller is cancelled while ``function`` runs, this still waits for ``function`` to
    finish before it lets the cancellation through, so that the caller's cleanup (closing a
    file, say) never runs while a thread still uses what it cleans up.
    """
    future = asyncio.ensure_future(asyncio.to_thread(function, *args, **kwargs))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await _finished(future)
        raise


async def open_blocking(function: Callable[_P, _C], *args: _P.args, **kwargs: _P.kwargs) -> _C:
    """:func:`run_blocking` for a ``function`` that opens something (or returns ``None``).

    If the caller is cancelled while ``function`` runs, what it opened is closed: the caller
    will never see it.
    """
    future = asyncio.ensure_future(asyncio.to_thread(function, *args, **kwargs))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await _finished(future)
        if not future.cancelled() and future.exception() is None:
            opened = future.result()
            if opened is not None:
                opened.close()
        raise


async def _finished(future: asyncio.Future[_T]) -> None:
    """Wait until ``future`` (a thread's work) is over, whatever it ends with."""
    if not future.done():
        await asyncio.wait([future])
