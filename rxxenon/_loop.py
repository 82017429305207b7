"""An asyncio event loop running on a thread of its own, callable from any other thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import selectors
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Final, Generic, TypeVar

from rxxenon._errors import CancelledError, DeadlineExceededError, LoopThreadError

T = TypeVar("T")

log = logging.getLogger(__name__)


class Waiter(Generic[T]):
    """The result of one piece of work done on the loop, waited for on another thread.

    Lighter than a ``concurrent.futures.Future``: one lock, released by :meth:`set_result`
    or :meth:`set_exception`. Exactly one of them must be called, once.
    """

    __slots__ = ("_error", "_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._value: T | None = None
        self._error: BaseException | None = None

    def set_result(self, value: T) -> None:
        self._value = value
        self._lock.release()

    def set_exception(self, error: BaseException) -> None:
        self._error = error
        self._lock.release()

    def wait(self, timeout: float | None = None) -> T:
        """The result, or raise the exception; ``TimeoutError`` if ``timeout`` passes first."""
        if not self._lock.acquire(timeout=-1 if timeout is None else max(timeout, 0.0)):
            raise TimeoutError
        self._lock.release()  # a later wait returns at once
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


#: Marks a wait that has been settled (taken out of the pending ones).
_SETTLED: Final[Any] = object()


#: How many loop iterations work handed to :meth:`LoopThread.when_idle` may wait at most.
MAX_IDLE_WAIT: Final = 8


class _IdleSelector(selectors.DefaultSelector):
    """The loop's selector, running the :meth:`LoopThread.when_idle` callbacks.

    They run when the loop is about to wait for I/O with nothing ready, or once they have
    waited :data:`MAX_IDLE_WAIT` iterations of a busy loop, whichever comes first.
    """

    def __init__(self) -> None:
        super().__init__()
        self.idle_callbacks: list[Callable[[], object]] = []
        self._iterations = 0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self.idle_callbacks:
            self._iterations += 1
            would_wait = timeout is None or timeout > 0
            if self._iterations < MAX_IDLE_WAIT:
                if not would_wait:
                    return super().select(timeout)  # callbacks are ready: the loop is busy
                ready = super().select(0)
                if ready:  # so is I/O
                    return ready
            self._run_idle_callbacks()
        return super().select(timeout)

    def _run_idle_callbacks(self) -> None:
        self._iterations = 0
        callbacks, self.idle_callbacks = self.idle_callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("an idle callback of the event loop failed")


class LoopThread:
    """Owns one event loop and the thread that runs it.

    Every gRPC call of a connection runs on this loop. Other threads hand it work with
    :meth:`submit` (get a future back), :meth:`call_soon` (fire and forget) or :meth:`run`
    (wait for the result). :meth:`run` refuses to run on the loop's own thread, where waiting
    would deadlock, and raises :class:`~rxxenon.LoopThreadError` instead. Work still waited
    for when the loop closes fails with :class:`~rxxenon.CancelledError`.
    """

    def __init__(self, name: str) -> None:
        self._selector = _IdleSelector()
        self._loop = asyncio.SelectorEventLoop(self._selector)
        self._thread = threading.Thread(target=self._run_forever, name=name, daemon=True)
        self._closed = False
        #: Waits in progress, each with what to call if its work never starts.
        self._pending: dict[Waiter[Any], Callable[[], object] | None] = {}
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
            self._fail_pending()

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

    def when_idle(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` on the loop before it next waits for I/O (loop thread only).

        Work that can wait a moment is gathered this way: a fast stream's messages are handed
        on together, once the loop has nothing else to do. The callback runs within
        :data:`MAX_IDLE_WAIT` loop iterations even on a busy loop. It must not raise, and
        must not schedule work on the loop (that would wait for the next I/O event).
        """
        self._selector.idle_callbacks.append(callback)

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
            CancelledError: the loop closed (or the coroutine was cancelled) first.
        """
        if self.on_loop_thread():
            coroutine.close()
            self.check_may_block(what)
        return self.wait_for(lambda: self._loop.create_task(coroutine), timeout, coroutine.close)

    def wait_for(
        self,
        start: Callable[[], asyncio.Future[T]],
        timeout: float | None = None,
        discard: Callable[[], object] | None = None,
    ) -> T:
        """Call ``start()`` on the loop and wait (on this thread) for the future it returns.

        The caller must not be the loop thread. ``discard`` is called if ``start`` never
        runs because the loop has closed. One hand-off to the loop and one back: a callback
        and a lock, lighter than ``run_coroutine_threadsafe`` and its
        ``concurrent.futures.Future``.

        Raises:
            DeadlineExceededError: ``timeout`` passed first (the future is cancelled).
            CancelledError: the future was cancelled, or the loop closed, first.
        """
        waiter: Waiter[T] = Waiter()
        started: list[asyncio.Future[T]] = []
        pending = self._pending

        def settle(future: asyncio.Future[T]) -> None:
            if pending.pop(waiter, _SETTLED) is _SETTLED:
                return  # timed out
            if future.cancelled():
                waiter.set_exception(CancelledError("the call was cancelled"))
            elif (error := future.exception()) is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(future.result())

        def begin() -> None:
            if waiter not in pending:  # timed out before it started
                if discard is not None:
                    discard()
                return
            try:
                future = start()
            except BaseException as exc:
                if pending.pop(waiter, _SETTLED) is not _SETTLED:
                    waiter.set_exception(exc)
                return
            started.append(future)
            if waiter in pending:
                pending[waiter] = None  # started: nothing to discard any more
            future.add_done_callback(settle)

        pending[waiter] = discard
        try:
            self._loop.call_soon_threadsafe(begin)
        except RuntimeError:  # the loop has closed
            if pending.pop(waiter, _SETTLED) is not _SETTLED and discard is not None:
                discard()
            raise CancelledError("the connection is closed") from None
        try:
            return waiter.wait(timeout)
        except TimeoutError:
            if pending.pop(waiter, _SETTLED) is _SETTLED:
                return waiter.wait()  # settled meanwhile: the result is a moment away
            self.call_soon(lambda: [future.cancel() for future in started])
            raise DeadlineExceededError(f"no result within {timeout} s") from None

    def _fail_pending(self) -> None:
        """Fail every wait whose work can no longer finish: the loop has closed."""
        while True:
            try:
                waiter, discard = self._pending.popitem()
            except KeyError:
                return
            if discard is not None:
                discard()
            waiter.set_exception(CancelledError("the call was cancelled: its connection closed"))

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
