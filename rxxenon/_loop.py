"""An asyncio event loop running on a thread of its own, callable from any other thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from rxxenon._errors import DeadlineExceededError, LoopThreadError

T = TypeVar("T")


class LoopThread:
    """Owns one event loop and the thread that runs it.

    Every gRPC call of a connection runs on this loop. Other threads hand it work with
    :meth:`submit` (get a future back), :meth:`call_soon` (fire and forget) or :meth:`run`
    (wait for the result). :meth:`run` refuses to run on the loop's own thread, where waiting
    would deadlock, and raises :class:`~rxxenon.LoopThreadError` instead.
    """

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_forever, name=name, daemon=True)
        self._closed = False
        self._thread.start()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def _run_forever(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def on_loop_thread(self) -> bool:
        """Whether the caller runs on this loop's thread."""
        return threading.current_thread() is self._thread

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coroutine`` on the loop; safe from any thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """Run ``callback(*args)`` on the loop soon; safe from any thread, never blocks.

        Does nothing once the loop has been closed.
        """
        if self.on_loop_thread():
            self._loop.call_soon(callback, *args)
        elif not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed between the check and the call
                self._loop.call_soon_threadsafe(callback, *args)

    def check_may_block(self, what: str) -> None:
        """Raise :class:`LoopThreadError` if called on the loop thread."""
        if self.on_loop_thread():
            raise LoopThreadError(
                f"{what} blocks, and was called on the connection's event-loop thread, which "
                "it would deadlock; use the Observable form, or move the work off this thread "
                "with observe_on(...)"
            )

    def run(
        self,
        coroutine: Coroutine[Any, Any, T],
        timeout: float | None = None,
        what: str = "A blocking rxxenon call",
    ) -> T:
        """Run ``coroutine`` on the loop and wait for its result.

        Raises:
            LoopThreadError: when called on the loop's own thread.
            DeadlineExceededError: when ``timeout`` seconds pass first (the coroutine is
                cancelled).
        """
        if self.on_loop_thread():
            coroutine.close()
            self.check_may_block(what)
        future = self.submit(coroutine)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise DeadlineExceededError(f"no result within {timeout} s") from None

    def close(self) -> None:
        """Stop the loop after cancelling what runs on it, and join the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.on_loop_thread():
            raise LoopThreadError("a connection cannot be closed from its own event-loop thread")

        async def cancel_all() -> None:
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.submit(cancel_all()).result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
