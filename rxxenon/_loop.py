"""An asyncio event loop running on a thread of its own, callable from any other thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import selectors
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Final, Generic, Protocol, TypeVar

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
    waited :data:`MAX_IDLE_WAIT` iterations of a busy loop, whichever comes first. Then, in
    every select, ``before_select`` (if set) gets the timeout and returns the one to use.
    """

    def __init__(self) -> None:
        super().__init__()
        self.idle_callbacks: list[Callable[[], object]] = []
        self.before_select: Callable[[float | None], float | None] | None = None
        self._iterations = 0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = None
        if self.idle_callbacks:
            self._iterations += 1
            if self._iterations >= MAX_IDLE_WAIT:
                self._run_idle_callbacks()
            elif timeout is None or timeout > 0:  # else callbacks are ready: the loop is busy
                ready = super().select(0)
                if not ready:  # nor is I/O: the loop is idle
                    self._run_idle_callbacks()
        if self.before_select is not None:
            timeout = self.before_select(timeout)
        return ready or super().select(timeout)

    def _run_idle_callbacks(self) -> None:
        self._iterations = 0
        callbacks, self.idle_callbacks = self.idle_callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("an idle callback of the event loop failed")


#: A delivery on the loop's own thread that runs longer than this (seconds) is slow (see
#: :meth:`Relayed.relay_finished`); one found still running after this is taken over by the
#: stand-in. The deliveries made before one wait for I/O run this long at most before the
#: loop gets an iteration in between.
SLOW_DELIVERY: Final = 0.001

#: How often the stand-in looks (seconds) while deliveries happen: a stuck delivery is taken
#: over within SLOW_DELIVERY + LOOK_PERIOD. (Each look takes the GIL for a moment, which
#: costs a busy loop thread a few microseconds.)
LOOK_PERIOD: Final = 0.004

#: The stand-in goes to sleep once this many of its looks found no delivery started.
_IDLE_LOOKS: Final = 25


class Relayed(Protocol):
    """Deliveries that :meth:`LoopThread.relay` runs on the loop's own thread."""

    def relay_deliver(self) -> None:
        """Deliver what is queued (on the loop's thread, the loop paused before a select)."""

    def relay_elsewhere(self) -> None:
        """Not started: the loop is busy elsewhere, so deliver on another thread."""

    def relay_finished(self, slow: bool, blocked: bool) -> None:
        """The delivery returned; ``slow``: it ran longer than :data:`SLOW_DELIVERY` (whether
        or not the stand-in took the loop over meanwhile); ``blocked``: it was about to wait."""


def _noop() -> None:
    pass


def _gil_enabled() -> bool:
    """Whether the GIL is on (always, except in a free-threaded build that disabled it)."""
    is_gil_enabled: Callable[[], bool] | None = getattr(sys, "_is_gil_enabled", None)
    return True if is_gil_enabled is None else is_gil_enabled()


class LoopThread:
    """Owns one event loop and the thread that runs it.

    Every gRPC call of a connection runs on this loop. Other threads hand it work with
    :meth:`submit` (get a future back), :meth:`call_soon` (fire and forget) or :meth:`run`
    (wait for the result). :meth:`run` refuses to run on the loop, where waiting would
    deadlock, and raises :class:`~rxxenon.LoopThreadError` instead. Work still waited for
    when the loop closes fails with :class:`~rxxenon.CancelledError`.

    With ``stand_in=True`` the thread can also call observers itself, with no thread hop
    (:meth:`relay`): just before the loop's next select, the loop pauses, the observers
    run, the loop goes on (the deliveries of one pause run for :data:`SLOW_DELIVERY` at most
    before the loop gets an iteration in between). They run as on any other thread: outside
    the loop, so they may make blocking calls. A second thread, the stand-in, watches: when
    such an observer is found running longer than :data:`SLOW_DELIVERY`, or is about to wait
    for something (a blocking rxxenon call, a full stdin buffer: :meth:`about_to_block`), or
    the loop is closing, the stand-in runs the loop's iterations until the observer returns,
    so that the other calls keep flowing. It looks every :data:`LOOK_PERIOD` while
    deliveries happen and sleeps when they stop. An observer that raises, even
    ``SystemExit``, is logged, as on a delivery thread.

    The stand-in drives the loop with ``BaseEventLoop._run_once`` (one iteration, what
    ``run_forever`` repeats), since the loop's own thread is still inside ``run_forever``:
    private, but in every CPython since 3.4 (the suite passes on 3.11, 3.12 and 3.13).
    """

    def __init__(self, name: str, *, stand_in: bool = False) -> None:
        if not _gil_enabled():
            raise RuntimeError(
                "rxxenon needs the GIL: its deliveries take no lock on a message's way and "
                "rely on single list and deque operations being atomic; run it without "
                "PYTHON_GIL=0 (free-threaded builds re-enable the GIL for such modules)"
            )
        self._selector = _IdleSelector()
        self._loop = asyncio.SelectorEventLoop(self._selector)
        self._closed = False  # close() was called
        self._closing = False  # the loop is to stop for good
        #: Waits in progress, each with what to call if its work never starts.
        self._pending: dict[Waiter[Any], Callable[[], object] | None] = {}
        #: The thread inside the loop (running its callbacks), if any.
        self._runner: int | None = None
        # Deliveries on the loop's thread. Their way has no lock: the loop's thread alone
        # appends to and takes from _relayed (the stand-in only after a take-over), and it
        # and the stand-in settle who ends a delivery with the token in _claim (see
        # _deliver_relayed). The stand-in's state below is guarded by _mutex (_lock waits on
        # it); the loop's thread writes _delivering_since and _deliveries without it.
        self._mutex = threading.Lock()
        self._lock = threading.Condition(self._mutex)
        self._relayed: deque[Relayed] = deque()
        #: Holds a token while the loop's thread delivers and the stand-in has not taken the
        #: loop over; whichever thread pops it (atomic) decides how the delivery ends.
        self._claim: list[bool] = []
        self._delivering_since: float | None = None  # the loop's thread runs an observer
        self._deliveries = 0  # counts deliveries started, for the stand-in to see activity
        self._stand_in_asleep = False
        self._handover_asked = False  # the delivering observer is about to block
        self._delivery_blocked = False  # ... and that happened during this delivery
        self._came_back = False  # the loop's thread finished delivering after a take-over
        self._handed_back = False  # the stand-in gave the loop back
        #: How often the stand-in took the loop over from a delivery (for tests and tuning).
        self.takeovers = 0
        self._thread = threading.Thread(target=self._run_home, name=name, daemon=True)
        self._stand_in = (
            threading.Thread(target=self._run_stand_in, name=f"{name} stand-in", daemon=True)
            if stand_in
            else None
        )
        self._thread.start()
        self._home = self._thread.ident
        if self._stand_in is not None:
            self._selector.before_select = self._before_select
            self._stand_in.start()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def relays(self) -> bool:
        """Whether :meth:`relay` can deliver on the loop's thread (there is a stand-in)."""
        return self._stand_in is not None

    @property
    def thread_name(self) -> str:
        """The name of the loop's own thread (the stand-in's is this plus `` stand-in``)."""
        return self._thread.name

    # --- the loop's own thread ----------------------------------------------------------------

    def _run_home(self) -> None:
        try:
            while not self._closing:  # (a stop() from elsewhere would end run_forever early)
                self._runner = threading.get_ident()
                try:
                    self._loop.run_forever()
                except BaseException:  # SystemExit from a callback too: run on, as the stand-in
                    log.exception("a callback of the event loop failed")
                finally:
                    self._runner = None
        finally:
            self._finish()

    def _finish(self) -> None:
        """Close the loop (its own thread, once it is to stop for good)."""
        self._runner = threading.get_ident()  # blocking calls from what runs now are refused
        try:
            shutdown = self._loop.create_task(self._loop.shutdown_asyncgens())
            self._loop.run_until_complete(shutdown)
            self._loop.close()
        finally:
            self._runner = None
            self._fail_pending()
            with self._lock:
                self._closing = True  # the loop is closed for good: the stand-in goes too
                self._home = None  # (thread ids are reused once a thread has ended)
                self._lock.notify_all()

    def relay(self, relayed: Relayed) -> bool:
        """Have ``relayed.relay_deliver()`` called on this thread before the loop next selects.

        Loop thread only. False when that is not possible (no stand-in, the stand-in runs
        the loop, or the loop is closing): deliver elsewhere.
        """
        if self._stand_in is None or self._closing:
            return False
        if not threading.get_ident() == self._runner == self._home:
            return False  # the stand-in runs the loop
        self._relayed.append(relayed)
        return True

    def _before_select(self, timeout: float | None) -> float | None:
        """The loop is about to select with ``timeout``: run the relayed deliveries first.

        Returns the timeout to select with: 0 if the loop must not wait (deliveries are left,
        or what they did scheduled callbacks). (A timer due meanwhile fires late by the time
        the deliveries took: :data:`SLOW_DELIVERY` at most, unless the stand-in took over,
        which returns 0.)
        """
        if not self._relayed or threading.get_ident() != self._home:
            return timeout  # nothing to deliver, or the stand-in runs this iteration
        if not self._deliver_relayed() or self._loop._ready:  # type: ignore[attr-defined]
            return 0
        return timeout

    def _deliver_relayed(self) -> bool:
        """Run the relayed deliveries, outside the loop; False if some are left for later.

        After :data:`SLOW_DELIVERY` in all, the loop gets one iteration before the rest.
        Each delivery puts a token in ``_claim`` and pops it when done; if the pop finds
        none, the stand-in popped it first and runs the loop: get it back.
        """
        relayed_queue, claim = self._relayed, self._claim
        self._runner = None  # the observers run outside the loop: they may block
        asyncio.events._set_running_loop(None)
        try:
            batch_started = started = time.perf_counter()
            while relayed_queue:  # (a caught IndexError costs more)
                # Announce the delivery before looking at _closing: a close that the look
                # misses finds the delivery announced, so its stand-in stays to take over.
                self._delivering_since = started
                if self._closing:
                    self._delivering_since = None
                    break
                relayed = relayed_queue.popleft()  # (only this thread takes from it now)
                self._deliveries += 1
                claim.append(True)
                if self._stand_in_asleep:
                    self._wake_stand_in()
                try:
                    relayed.relay_deliver()
                except BaseException:  # as the delivery pool: log it, keep the loop's thread
                    log.exception("a delivery failed")
                self._delivering_since = None
                self._handover_asked = False
                now = time.perf_counter()
                blocked, self._delivery_blocked = self._delivery_blocked, False
                try:
                    claim.pop()
                    taken_over = False
                except IndexError:  # the stand-in took the loop over meanwhile
                    self._take_back()
                    taken_over = True
                # Slow by its own time only: the stand-in may have judged by the delivery
                # before it, and taken over one that had only just started.
                relayed.relay_finished(now - started > SLOW_DELIVERY, blocked)
                if taken_over:
                    return False  # the loop moved on meanwhile: look again before waiting
                if now - batch_started > SLOW_DELIVERY:
                    break
                started = now
        finally:
            asyncio.events._set_running_loop(self._loop)
            self._runner = self._home
        if self._closing:
            for relayed in self._take_relayed():
                self._relay_elsewhere(relayed)
        return not relayed_queue

    def _wake_stand_in(self) -> None:
        """A delivery starts while the stand-in sleeps: have it watch again."""
        with self._lock:
            self._lock.notify_all()

    def _claim_delivery(self) -> bool:
        """The stand-in takes the running delivery's token; False if it has ended."""
        try:
            self._claim.pop()
        except IndexError:
            return False
        return True

    def _take_relayed(self) -> list[Relayed]:
        """Take the relayed deliveries out of the queue, to hand them elsewhere."""
        moved = []
        with contextlib.suppress(IndexError):
            while True:
                moved.append(self._relayed.popleft())
        return moved

    def _take_back(self) -> None:
        """After a take-over: get the loop back from the stand-in."""
        with self._lock:
            self._came_back = True
            self._lock.notify_all()  # (a stand-in waiting between looks, while closing)
        self._loop.call_soon_threadsafe(_noop)  # end the stand-in's select
        with self._lock:
            while not self._handed_back:
                self._lock.wait()
            self._came_back = self._handed_back = False

    def about_to_block(self) -> None:
        """The caller is about to wait: if it is an observer called on the loop's thread, the
        stand-in takes the loop over first (else the wait could be for the loop itself)."""
        if self._stand_in is None or threading.get_ident() != self._home:
            return
        with self._lock:
            if self._delivering_since is not None:
                self._delivery_blocked = True
                self._ask_stand_in()

    def _ask_stand_in(self) -> None:
        """Have the stand-in take the loop over now if a delivery holds its thread (lock held)."""
        if self._delivering_since is not None:
            self._handover_asked = True
            self._lock.notify_all()

    # --- the stand-in ---------------------------------------------------------------------------

    def _run_stand_in(self) -> None:
        lock = self._lock
        idle_looks = 0
        seen = -1
        with lock:
            # Closing, the loop's thread may still be in a delivery: stay until it is out.
            while not (self._closing and self._delivering_since is None):
                if self._handover_asked or self._closing or self._delivery_is_slow():
                    self._handover_asked = False
                    if self._delivering_since is not None and self._claim_delivery():
                        self._take_over()
                        continue
                if self._deliveries != seen or self._delivering_since is not None:
                    seen, idle_looks = self._deliveries, 0
                else:
                    idle_looks += 1
                if idle_looks < _IDLE_LOOKS or self._closing:
                    lock.wait(LOOK_PERIOD)
                    continue
                self._stand_in_asleep = True
                # Look once more now that the loop's thread can see the flag: a delivery
                # started before it is counted in _deliveries; one after it wakes us.
                if self._deliveries == seen and self._delivering_since is None:
                    lock.wait()
                self._stand_in_asleep = False
                idle_looks = 0

    def _cancel_everything(self) -> None:
        """The loop is closing without its thread: cancel its tasks, fail the waits."""
        try:
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._fail_pending()
        except Exception:  # (a discard callback failed) the stand-in must go on
            log.exception("the stand-in failed to cancel the loop's work")

    def _delivery_is_slow(self) -> bool:
        since = self._delivering_since
        return since is not None and time.perf_counter() - since > SLOW_DELIVERY

    def _take_over(self) -> None:
        """Run the loop while its thread is busy in an observer (lock held, released meanwhile).

        Until that thread comes back for it. If the connection closes meanwhile, what runs on
        the loop is cancelled, and the loop runs on, one look per :data:`LOOK_PERIOD`, until
        its thread is back to close it.
        """
        self.takeovers += 1
        moved = self._take_relayed()
        self._lock.release()
        try:
            for relayed in moved:
                self._relay_elsewhere(relayed)
            with self._running_here():
                self._run_until_home_is_back()
        finally:
            with self._lock:
                self._handed_back = True
                self._lock.notify_all()
            self._lock.acquire()

    @contextlib.contextmanager
    def _running_here(self) -> Iterator[None]:
        """This thread runs the loop: what ``run_forever`` sets up for its thread, undone after."""
        loop: Any = self._loop
        hooks = sys.get_asyncgen_hooks()
        loop._thread_id = self._runner = threading.get_ident()
        sys.set_asyncgen_hooks(
            firstiter=loop._asyncgen_firstiter_hook, finalizer=loop._asyncgen_finalizer_hook
        )
        asyncio.events._set_running_loop(self._loop)
        try:
            yield
        finally:
            asyncio.events._set_running_loop(None)
            sys.set_asyncgen_hooks(*hooks)
            loop._thread_id = self._home
            self._runner = None

    def _run_until_home_is_back(self) -> None:
        run_once: Callable[[], None] = self._loop._run_once  # type: ignore[attr-defined]
        cancelled = False
        while True:
            try:
                run_once()
            except BaseException:  # SystemExit from a callback too: run on
                log.exception("the stand-in failed to run the loop")
            with self._lock:
                if self._came_back:
                    return
                closing = self._closing
            if closing:  # the loop's stop makes _run_once spin: look now and then
                if not cancelled:
                    cancelled = True
                    self._cancel_everything()
                with self._lock:
                    if not self._came_back:
                        self._lock.wait(LOOK_PERIOD)

    @staticmethod
    def _relay_elsewhere(relayed: Relayed) -> None:
        try:
            relayed.relay_elsewhere()
        except Exception:  # the stand-in must go on
            log.exception("a delivery could not be handed elsewhere")

    # --- any thread ---------------------------------------------------------------------------

    def on_loop_thread(self) -> bool:
        """Whether the caller runs inside the loop (its thread, or the stand-in running it)."""
        return threading.get_ident() == self._runner

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coroutine`` on the loop; safe from any thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """Run ``callback(*args)`` on the loop soon; safe from any thread, never blocks.

        Does nothing once the loop has been closed.
        """
        if self.on_loop_thread():
            self._loop.call_soon(callback, *args)
            return
        # An observer on the loop's thread, the loop paused (it will not wait for I/O after:
        # _before_select), unless the stand-in took it over.
        if self._claim and not self._closing and threading.get_ident() == self._home:
            with contextlib.suppress(RuntimeError):  # taken over (asyncio debug mode)
                self._loop.call_soon(callback, *args)
                if not self._claim:  # taken over meanwhile: wake the stand-in's select
                    self._loop.call_soon_threadsafe(_noop)
                return
        if not self._loop.is_closed():
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
        """Raise :class:`LoopThreadError` if called inside the loop; see :meth:`about_to_block`."""
        if self.on_loop_thread():
            raise LoopThreadError(
                f"{what} blocks, and was called on the connection's event-loop thread, which "
                "it would deadlock; use the Observable form, or move the work off this thread "
                "with observe_on(...)"
            )
        self.about_to_block()

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

        The caller must not be inside the loop. ``discard`` is called if ``start`` never
        runs because the loop has closed. One hand-off to the loop and one back: a callback
        and a lock, lighter than ``run_coroutine_threadsafe`` and its
        ``concurrent.futures.Future``.

        Raises:
            DeadlineExceededError: ``timeout`` passed first (the future is cancelled).
            CancelledError: the future was cancelled, or the loop closed, first.
        """
        if self._closing:
            if discard is not None:
                discard()
            raise CancelledError("the connection is closed")
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
        self.about_to_block()
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
        """Stop the loop after cancelling what runs on it, and join the threads. Idempotent.

        Called by an observer on the loop's own thread, it does not wait for the threads:
        they end once that observer returns. Either way it waits 10 s at most.
        """
        if self.on_loop_thread():
            if self._closed:
                return
            raise LoopThreadError("a connection cannot be closed from its own event-loop thread")
        with self._mutex:
            closed, self._closed = self._closed, True
        if closed:
            return
        self.about_to_block()
        with self._lock:  # a delivery holds the loop's thread: the stand-in runs the close
            self._ask_stand_in()

        async def cancel_all() -> None:
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            with contextlib.suppress(RuntimeError):  # the loop is closed already
                self.submit(cancel_all()).result(10)
        finally:
            with self._lock:
                self._closing = True
                self._lock.notify_all()
            with contextlib.suppress(RuntimeError):  # closed already
                self._loop.call_soon_threadsafe(self._loop.stop)
            # Called by an observer on the loop's own thread, the stand-in holds the loop until
            # that observer returns: both threads end after this returns.
            if threading.current_thread() is not self._thread:
                deadline = time.monotonic() + 10
                for thread in (self._thread, self._stand_in):
                    if thread is not None:
                        thread.join(max(deadline - time.monotonic(), 0))
