"""The adapter between ReactiveX and ``grpc.aio``. It knows nothing of Xenon.

Every call runs on the one event loop a :class:`~rxxenon._loop.LoopThread` owns; Rx meets
that loop at three edges:

* **Responses** are read from the call by a :class:`Pump` task on the loop, one ``await
  call.read()`` per message with no async generator in between, and handed to a per-call
  :class:`_Delivery`, which calls the observer one notification at a time and in order.
  While the observer is quick, the loop's own thread calls it just before the loop's next
  select, with no thread hop (:meth:`LoopThread.relay`); messages that arrived meanwhile go
  together. An observer that blocks, or is slow again and again, is called on a small
  shared :class:`DeliveryPool` from then on, its messages handed over in batches once the
  loop has nothing else to do (or the call's queue is full); while an observer holds the
  loop's thread, a stand-in thread runs the loop. The delivery queue is short: when the
  observer is slow, the pump stops reading, gRPC flow control pushes back to the server,
  and only that call slows down; one slow subscriber does not stall the other calls of the
  connection. Without a pool (``delivery_threads=0``) observers are called inside the loop,
  before the next message is read, for observers that never block.
* **Requests** go through a :class:`RequestBuffer`, a bounded, thread-safe Observer. The
  call's writer task takes from it and awaits each ``write`` (gRPC flow control). A producer
  waits while the buffer is full; inside the loop it gets
  :class:`~rxxenon.StdinBufferFullError` instead, since the loop must never wait.
* **Subscribing** starts the call, **disposing** cancels it; both work from any thread.

One method per call shape (:meth:`RxGrpc.unary`, :meth:`RxGrpc.server_stream`,
:meth:`RxGrpc.client_stream`, :meth:`RxGrpc.bidi`) returns a cold Observable: each
subscription is a new call. :meth:`RxGrpc.start` runs any async source (or such a call) hot,
with a handle to pause, resume and cancel it. :meth:`RxGrpc.call` is the blocking form of a
unary call: one hand-off to the loop and one back (see :meth:`LoopThread.wait_for`).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from concurrent.futures import Executor
from typing import Any, Final, Generic, Protocol, TypeVar

import grpc
import grpc.aio
import reactivex
from reactivex import Observable, abc
from reactivex.disposable import Disposable
from reactivex.scheduler import NewThreadScheduler

from rxxenon._errors import CancelledError, StdinBufferFullError
from rxxenon._loop import LoopThread

__all__ = ["MAX_PIECE", "CallSource", "DeliveryPool", "Pump", "RequestBuffer", "RxGrpc", "pieces"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Req = TypeVar("Req")
Resp = TypeVar("Resp")

ErrorMapper = Callable[[Exception], Exception]
AsyncSource = Callable[[], AsyncIterator[T]]

#: grpc.aio's end-of-stream marker (missing from the type stubs).
_EOF: Final[Any] = getattr(grpc.aio, "EOF")  # noqa: B009

#: Slow deliveries on the loop's own thread before a call's observer counts as slow for good
#: (a quick one takes one back): a machine busy for a moment makes a quick observer look slow.
_SLOW_STRIKES: Final = 3

#: Streamed requests carry at most this many bytes of data (servers refuse messages of 4 MiB).
MAX_PIECE: Final = 1 << 20


def pieces(data: bytes) -> Iterable[bytes]:
    """``data`` cut into pieces of at most :data:`MAX_PIECE` bytes (``b""`` stays one piece)."""
    if len(data) <= MAX_PIECE:
        return (data,)
    view = memoryview(data)
    return (bytes(view[i : i + MAX_PIECE]) for i in range(0, len(data), MAX_PIECE))


class DeliveryPool:
    """A small pool of threads on which observers are called: a connection's delivery threads.

    Lighter than a ``ThreadPoolExecutor`` (no future per task): :meth:`run` queues a function
    for the next free thread. Threads start as they are needed, up to ``threads``; when all
    are busy (slow observers hold them), functions wait in the queue. Threads are named
    ``<name>_<n>``.
    """

    def __init__(self, threads: int, name: str) -> None:
        if threads < 1:
            raise ValueError(f"a delivery pool needs at least one thread, not {threads}")
        self._max = threads
        self._name = name
        self._queue: queue.SimpleQueue[Callable[[], object] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads that finished a function and have not been claimed since
        self._shut_down = False

    def run(self, function: Callable[[], object]) -> None:
        """Call ``function()`` on a pool thread soon; safe from any thread, never blocks.

        Raises:
            RuntimeError: the pool has shut down.
        """
        with self._lock:
            if self._shut_down:
                raise RuntimeError("the delivery pool has shut down")
            self._queue.put(function)
            if self._idle:
                self._idle -= 1
                return
            if len(self._threads) >= self._max:
                return  # every thread is busy: it waits for the first to be free
            thread = threading.Thread(
                target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        get, lock = self._queue.get, self._lock
        while (function := get()) is not None:
            try:
                function()
            except BaseException:
                log.exception("a delivery failed")
            with lock:
                self._idle += 1

    def shutdown(self, wait: bool = True) -> None:
        """Stop the threads once the functions queued so far have run. Idempotent.

        ``wait``: join them (not the caller's own thread, if it is one of them).
        """
        with self._lock:
            if not self._shut_down:
                self._shut_down = True
                for _ in self._threads:
                    self._queue.put(None)
            threads = list(self._threads)
        if wait:
            current = threading.current_thread()
            for thread in threads:
                if thread is not current:
                    thread.join()


def _as_exception(error: BaseException) -> Exception:
    """``error``, or, for ``SystemExit`` and the like, an Exception that names it."""
    if isinstance(error, Exception):
        return error
    wrapped = RuntimeError(f"the observer raised {error!r}")
    wrapped.__cause__ = error
    return wrapped


class _Delivery(Generic[T]):
    """Hands one stream's notifications to its observer, serially and in order.

    The pump (on the loop) offers each value with :meth:`offer`; how it reaches the observer
    depends on ``executor``:

    * **An executor** (the delivery pool): values queue up and one thread at a time drains
      them: the loop's own thread, just before the loop's next select, while the observer is
      quick (see :meth:`LoopThread.relay` and :meth:`relay_finished`), else a pool thread. A
      drain delivers until the queue is empty, so the messages that arrived meanwhile go in
      one drain. A pool drain is started once the loop has nothing else to do (see
      :meth:`LoopThread.when_idle`) or when the queue is full, so the messages of a fast
      stream are handed on several at a time, and a lone message at once. At most
      ``capacity`` values wait in the queue (plus the one being delivered): when it is full,
      :meth:`offer` refuses and the pump awaits :meth:`space`, which the drain grants once it
      has taken the queue down to half. Reading thus pauses while the observer is slow.
    * **None**: each value is delivered inline, on the loop, before :meth:`offer` returns; the
      pump reads nothing more meanwhile.

    Terminal notifications never wait. If the observer raises, ``on_failure`` is told (it
    cancels the call) and the observer receives the exception through ``on_error``; nothing
    more is delivered.

    No lock on the way of a message: the queue is a ``deque`` (its ``append`` and
    ``popleft`` are atomic), and the right to drain is a token in a list, taken with an
    atomic ``pop``, so that exactly one thread drains at a time.
    """

    def __init__(
        self,
        observer: abc.ObserverBase[T],
        executor: Executor | DeliveryPool | None,
        loop: LoopThread,
        capacity: int,
        on_failure: Callable[[Exception], None],
    ) -> None:
        self._observer = observer
        self._executor = executor
        self._run_on_pool: Callable[[Callable[[], None]], object] | None = (
            None
            if executor is None
            else executor.run
            if isinstance(executor, DeliveryPool)
            else executor.submit
        )
        self._loop = loop
        self._capacity = capacity
        self._low_water = capacity // 2  # a waiting pump is woken once the queue is this short
        self._on_failure = on_failure
        self._queue: deque[T] = deque()
        #: Holds the drain token while no drain is scheduled or running; a drain takes it
        #: (``pop``, atomic), so that only one runs, and puts it back when the queue is empty.
        self._idle: list[bool] = [True]
        #: The terminal notification once :meth:`finish` was called: ``(error,)``.
        self._terminal: tuple[Exception | None] | None = None
        self._flush_scheduled = False  # a flush waits for the loop to be idle (pool only)
        self._closed = False  # no more values are accepted (finished or disposed)
        self._disposed = False  # nothing more is delivered
        self._putter_waiting = False  # the pump waits for space (set by it, cleared by a drain)
        self._space: asyncio.Future[None] | None = None
        #: Slow deliveries on the loop's own thread, net of quick ones; at _SLOW_STRIKES (at
        #: once if the observer blocked) drains go to the executor for good (see
        #: :meth:`LoopThread.relay`).
        self._strikes = 0
        self._relays = executor is not None and loop.relays

    def offer(self, value: T) -> bool:
        """Deliver or queue ``value`` (loop thread only); False if the queue is full.

        A refused value is not queued: await :meth:`space`, then offer it again.
        """
        if self._executor is None:
            if not self._closed:
                self._deliver_next(value)
            return True
        if self._closed:
            return True
        queue = self._queue
        if len(queue) >= self._capacity:
            self._putter_waiting = True
            if len(queue) >= self._capacity:  # (else a drain took one meanwhile)
                self._start_drain()  # hand the queue on now: the pump waits for room
                return False
        queue.append(value)
        if self._idle:  # no drain is scheduled or running
            if self._relays and self._strikes < _SLOW_STRIKES:  # before the loop waits
                self._start_drain()
            elif not self._flush_scheduled:
                self._flush_scheduled = True
                self._loop.when_idle(self._flush)
        return True

    def _flush(self) -> None:
        """Start a drain of what is queued, unless one runs (loop thread only)."""
        self._flush_scheduled = False
        if self._queue:
            self._start_drain()

    def _start_drain(self) -> None:
        """Start a drain unless one is scheduled or running (loop thread only)."""
        try:
            self._idle.pop()
        except IndexError:
            return  # the drain that has the token delivers this too
        if self._strikes >= _SLOW_STRIKES or not self._loop.relay(self):
            self.relay_elsewhere()

    # Relayed: how the loop's own thread runs the drain, before the loop's select.

    def relay_deliver(self) -> None:
        self._drain()

    def relay_elsewhere(self) -> None:
        assert self._run_on_pool is not None
        try:
            self._run_on_pool(self._drain)
        except RuntimeError:  # the pool has shut down: the connection is closing
            log.debug("a delivery was dropped: the delivery pool has shut down")

    def relay_finished(self, slow: bool, blocked: bool) -> None:
        if blocked:
            self._strikes = _SLOW_STRIKES
        elif slow:
            self._strikes += 1
        elif self._strikes:
            self._strikes -= 1

    def space(self) -> asyncio.Future[None]:
        """A future that is done once the queue has room again (loop thread only)."""
        self._space = self._loop.loop.create_future()
        return self._space

    def _grant_space(self) -> None:
        space, self._space = self._space, None
        if space is not None and not space.done():
            space.set_result(None)

    def finish(self, error: Exception | None) -> None:
        """Queue the terminal notification (after the queued values); never waits."""
        if self._closed:
            return
        self._closed = True
        if self._executor is None:
            self._deliver_terminal(error)
            return
        self._terminal = (error,)
        self._start_drain()

    def dispose(self) -> None:
        """Deliver nothing more; drop what is queued. Safe from any thread."""
        self._closed = True
        self._disposed = True
        self._queue.clear()
        self._terminal = None
        if self._putter_waiting:
            self._putter_waiting = False
            self._loop.call_soon(self._grant_space)

    def _drain(self) -> None:
        """Deliver until the queue is empty, then the end if it came (holding the token)."""
        queue, idle = self._queue, self._idle
        on_next = self._observer.on_next
        while True:
            # Read before the queue is found empty: all values came before the end.
            terminal = self._terminal
            while queue and not self._disposed:  # (a caught IndexError costs more)
                try:
                    value = queue.popleft()
                except IndexError:  # dispose() emptied it meanwhile
                    break
                if self._putter_waiting and len(queue) <= self._low_water:
                    self._putter_waiting = False
                    self._loop.call_soon(self._grant_space)
                try:
                    on_next(value)
                except BaseException as exc:  # SystemExit too: the call must not hang
                    self._observer_failed(_as_exception(exc))
                    return
            if self._disposed:
                return
            if terminal is not None:
                self._deliver_terminal(terminal[0])
                return  # the token stays taken: nothing comes after the end
            idle.append(True)
            if not queue and self._terminal is None:
                return
            try:  # more came meanwhile: drain it too, unless another drain took the token
                idle.pop()
            except IndexError:
                return

    def _deliver_next(self, value: T) -> None:
        try:
            self._observer.on_next(value)
        except BaseException as exc:  # SystemExit too: the call must not hang
            self._observer_failed(_as_exception(exc))

    def _observer_failed(self, exc: Exception) -> None:
        """``on_next`` raised ``exc``: cancel the call, send ``exc`` to ``on_error``."""
        self._disposed = self._closed = True
        self._on_failure(exc)
        try:
            self._observer.on_error(exc)
        except Exception:
            log.exception("an observer raised in on_next, then again in on_error")

    def _deliver_terminal(self, error: Exception | None) -> None:
        if self._disposed:
            return
        self._disposed = True
        try:
            if error is None:
                self._observer.on_completed()
            else:
                self._observer.on_error(error)
        except BaseException as exc:
            self._on_failure(_as_exception(exc))
            log.error("an observer raised in on_error/on_completed", exc_info=exc)


class _Stream(Protocol):
    """One running source, as a :class:`Pump` reads it."""

    @property
    def read(self) -> Callable[[], Awaitable[Any]]:
        """Returns the next item, or :data:`_EOF` at the end."""

    @property
    def convert(self) -> Callable[[Any], Any] | None:
        """Applied to each item on the loop; items it turns into None are skipped."""

    def failure(self, error: BaseException) -> Exception | None:
        """The error to report when reading raised ``error`` (None: report it as it is)."""

    async def close(self) -> None:
        """Release the source (cancel its call); the pump calls it once, at the end."""


class _IteratorStream(Generic[T]):
    """An async iterator as a :class:`_Stream`."""

    convert = None

    def __init__(self, iterator: AsyncIterator[T]) -> None:
        self._iterator = iterator

    async def read(self) -> Any:
        try:
            return await anext(self._iterator)
        except StopAsyncIteration:
            return _EOF

    def failure(self, error: BaseException) -> Exception | None:
        return None

    async def close(self) -> None:
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            await aclose()


class CallSource:
    """One gRPC call, made anew each time a pump opens it, and read directly.

    Made by the methods of :class:`RxGrpc`: a pump reads such a call without any async
    generator in between (one ``await call.read()`` per message). ``request`` is the
    request of a unary-request call; ``buffer`` feeds the requests of a streaming-request
    call; ``unary_reply`` marks a call with one response; ``convert`` turns each response
    into what is emitted (None: skipped).
    """

    def __init__(
        self,
        method: Callable[[], Any],
        *,
        request: Any = None,
        buffer: Callable[[], RequestBuffer[Any]] | None = None,
        unary_reply: bool = False,
        convert: Callable[[Any], Any] | None = None,
    ) -> None:
        self._method = method
        self._request = request
        self._buffer = buffer
        self._unary_reply = unary_reply
        self._convert = convert

    def open(self) -> _CallStream:
        """Start the call (loop thread only)."""
        buffer = None if self._buffer is None else self._buffer()
        call = self._method()() if buffer is not None else self._method()(self._request)
        return _CallStream(call, buffer, self._unary_reply, self._convert)


class _CallStream:
    """A started call as a :class:`_Stream`: its responses, its requests written alongside."""

    def __init__(
        self,
        call: Any,
        buffer: RequestBuffer[Any] | None,
        unary_reply: bool,
        convert: Callable[[Any], Any] | None,
    ) -> None:
        self._call = call
        self._buffer = buffer
        self.convert = convert
        self.read: Callable[[], Awaitable[Any]] = self._reply if unary_reply else call.read
        self._replied = False
        self._request_error: Exception | None = None
        self._first_status: _FirstStatus | None = None
        self._writer: asyncio.Task[None] | None = None
        if buffer is not None:
            self._first_status = _FirstStatus(call)
            self._writer = asyncio.ensure_future(self._write_requests(buffer))

    async def _reply(self) -> Any:
        if self._replied:
            return _EOF
        self._replied = True
        return await self._call

    async def _write_requests(self, buffer: RequestBuffer[Any]) -> None:
        call = self._call
        try:
            while True:
                more, request = await buffer.get()
                if not more:
                    break
                await call.write(request)
            await call.done_writing()
        except (grpc.RpcError, asyncio.InvalidStateError):
            pass  # the call has ended; its reader reports how
        except Exception as exc:  # the request stream failed
            self._request_error = exc
            call.cancel()
        finally:
            buffer.close()

    def failure(self, error: BaseException) -> Exception | None:
        # A call cancelled because its requests failed ends with CANCELLED (or, awaited, with
        # asyncio.CancelledError): report the requests' error instead.
        if self._request_error is not None:
            return self._request_error
        if isinstance(error, grpc.RpcError) and self._first_status is not None:
            return self._first_status.instead_of(error)
        return None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
        self._call.cancel()
        if self._buffer is not None:
            self._buffer.close()


#: What a pump runs: an async iterator factory, or a gRPC call.
Source = AsyncSource[T] | CallSource


class Pump(Generic[T]):
    """Runs one source on the loop and feeds its items to one observer.

    Created and started by :meth:`RxGrpc.start`. ``initial_demand`` (None: no limit) is how
    many items are read before the pump waits for :meth:`resume`.
    """

    def __init__(
        self,
        bridge: RxGrpc,
        source: Source[T],
        observer: abc.ObserverBase[T],
        initial_demand: int | None,
    ) -> None:
        self._bridge = bridge
        self._source = source
        self._demand = initial_demand
        self._resumed = asyncio.Event()
        self._cancelled = False
        self._task: asyncio.Task[None] | None = None
        self._delivery = _Delivery(
            observer, bridge.executor, bridge.loop, bridge.capacity, lambda _: self.cancel()
        )

    def start(self) -> None:
        """Start reading; safe from any thread."""
        self._bridge.loop.call_soon(self._start_on_loop)

    def resume(self) -> None:
        """Lift the initial demand limit; safe from any thread."""
        self._bridge.loop.call_soon(self._resume_on_loop)

    def cancel(self) -> None:
        """Cancel the call and deliver nothing more; safe from any thread, idempotent."""
        if self._cancelled:
            return
        self._cancelled = True
        self._delivery.dispose()
        self._bridge.loop.call_soon(self._cancel_on_loop)

    def _start_on_loop(self) -> None:
        if self._cancelled:
            return
        self._task = self._bridge.track(self._run())

    def _resume_on_loop(self) -> None:
        self._demand = None
        self._resumed.set()

    def _cancel_on_loop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        source = self._source
        delivery = self._delivery
        stream: _Stream | None = None
        error: Exception | None = None
        try:
            stream = source.open() if isinstance(source, CallSource) else _IteratorStream(source())
            read, convert = stream.read, stream.convert
            while True:  # the hot path: keep it lean
                if self._demand is not None:
                    if self._demand == 0:
                        await self._resumed.wait()
                    elif self._demand > 0:
                        self._demand -= 1
                item = await read()
                if item is _EOF:
                    break
                if convert is not None and (item := convert(item)) is None:
                    continue
                while not delivery.offer(item):
                    await delivery.space()
                if self._cancelled:
                    return  # disposed, or the observer raised
        except asyncio.CancelledError as cancelled:
            if self._cancelled:
                return  # disposed: the observer expects nothing more
            instead = None if stream is None else stream.failure(cancelled)
            if instead is not None:
                error = self._bridge.map_error(instead)
            else:
                # The channel closed under the call, or the loop is shutting down.
                delivery.finish(CancelledError("the call was cancelled: its connection closed"))
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                return
        except Exception as exc:
            instead = None if stream is None else stream.failure(exc)
            error = self._bridge.map_error(exc if instead is None else instead)
        finally:
            if stream is not None:
                await stream.close()
        delivery.finish(error)


class RequestBuffer(abc.ObserverBase[T]):
    """A bounded, thread-safe Observer feeding the request side of one call.

    * ``on_next`` queues an item. It waits while ``capacity`` items are queued (an observer
      called by the loop's own thread first has the stand-in take the loop over); inside the loop
      it raises :class:`~rxxenon.StdinBufferFullError` instead. Items pushed before the
      call is up are kept and sent once it is.
    * ``on_completed`` half-closes the call once the queued items are written.
    * ``on_error`` cancels the call; its observer receives that error.
    * After the call has ended, items are dropped silently.
    """

    def __init__(self, loop: LoopThread, capacity: int = 16) -> None:
        self._loop = loop
        self._capacity = capacity
        self._cond = threading.Condition()
        self._items: deque[T] = deque()
        self._completed = False
        self._error: Exception | None = None
        self._closed = False
        self._consumer_waiting = False
        self._ready = asyncio.Event()
        self._source_subscription: abc.DisposableBase | None = None

    def on_next(self, value: T) -> None:
        with self._cond:
            while len(self._items) >= self._capacity and not (self._closed or self._completed):
                if self._loop.on_loop_thread():
                    raise StdinBufferFullError(
                        f"the request buffer holds {self._capacity} items already; "
                        "push from another thread to wait for room"
                    )
                self._loop.about_to_block()
                self._cond.wait()
            if self._closed or self._completed:
                return
            self._items.append(value)
            wake, self._consumer_waiting = self._consumer_waiting, False
        if wake:  # one lock round per item: this is the stdin hot path
            self._loop.call_soon(self._ready.set)

    def on_error(self, error: Exception) -> None:
        with self._cond:
            if self._closed or self._completed:
                return
            self._error = error
            self._completed = True
            self._cond.notify_all()
        self._wake_consumer()

    def on_completed(self) -> None:
        with self._cond:
            if self._closed or self._completed:
                return
            self._completed = True
            self._cond.notify_all()
        self._wake_consumer()

    def feed_from(
        self, source: Observable[Any], observer: abc.ObserverBase[Any] | None = None
    ) -> None:
        """Subscribe ``source`` into this buffer (through ``observer``) on a thread of its own.

        A synchronous source (``from_iterable``) may block while the buffer is full; its
        thread waits instead of the caller's. Returns once ``source`` is subscribed (its
        ``subscribe`` returned, or it sent its first notification), so that nothing a hot
        source (a ``Subject``) emits after this returns is lost; on the loop thread it
        returns at once. The subscription is disposed when the call ends.
        """
        target = observer or self
        subscribed = threading.Event()

        def noting(notify: Callable[..., None]) -> Callable[..., None]:
            def call(*args: Any) -> None:
                subscribed.set()
                notify(*args)

            return call

        def subscribe(scheduler: abc.SchedulerBase, state: Any = None) -> abc.DisposableBase:
            subscription = source.subscribe(
                noting(target.on_next), noting(target.on_error), noting(target.on_completed)
            )
            subscribed.set()
            return subscription

        # Disposing the scheduled action disposes the subscription it returned.
        self._source_subscription = NewThreadScheduler().schedule(subscribe)
        if not self._loop.on_loop_thread():
            subscribed.wait()

    def close(self) -> None:
        """The call has ended: wake waiting producers, drop what is queued and what comes."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()
        if self._source_subscription is not None:
            self._source_subscription.dispose()

    def _wake_consumer(self) -> None:
        with self._cond:
            wake = self._consumer_waiting
            self._consumer_waiting = False
        if wake:
            self._loop.call_soon(self._ready.set)

    async def get(self) -> tuple[bool, T | None]:
        """Next item as ``(True, item)``, or ``(False, None)`` at the end (loop thread only).

        Raises the producer's error if it called ``on_error``.
        """
        while True:
            with self._cond:
                if self._items:
                    item = self._items.popleft()
                    self._cond.notify()
                    return True, item
                if self._error is not None:
                    raise self._error
                if self._completed or self._closed:
                    return False, None
                self._consumer_waiting = True
                self._ready.clear()
            await self._ready.wait()


class RxGrpc:
    """Turns ``grpc.aio`` calls into Observables, for one connection's loop.

    Args:
        loop: the thread whose event loop runs the calls.
        executor: the pool on which observers are called (a :class:`DeliveryPool`, or any
            ``Executor``); quick ones are called by the loop's own thread instead if it has
            a stand-in (:meth:`LoopThread.relay`). None calls them inside the loop (they
            must not block there).
        map_error: turns an exception raised by a call into the one observers receive.
        capacity: notifications queued per call before its reading pauses.
    """

    def __init__(
        self,
        loop: LoopThread,
        executor: Executor | DeliveryPool | None,
        map_error: ErrorMapper,
        capacity: int = 8,
    ) -> None:
        self.loop = loop
        self.executor = executor
        self.capacity = capacity
        self._map_error = map_error
        self._tasks: set[asyncio.Task[Any]] = set()

    def map_error(self, error: Exception) -> Exception:
        """Translate an exception raised by a call (a ``grpc.RpcError``) for observers."""
        if isinstance(error, grpc.RpcError):
            return self._map_error(error)
        return error

    def track(self, coroutine: Any) -> asyncio.Task[Any]:
        """Run ``coroutine`` as a task on the loop, holding a reference until it is done."""
        task = self.loop.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def active_tasks(self) -> int:
        """How many calls and pumps are running (for leak checks)."""
        return len(self._tasks)

    # --- blocking ---------------------------------------------------------------------------

    def call(self, method: Callable[[], Any], request: Any, timeout: float | None = None) -> Any:
        """Make a unary call and wait for its response; from any thread but the loop's.

        ``method`` returns the stub's multicallable (it is looked up on the loop). ``timeout``
        is the call's deadline, in seconds (None: none).

        Raises:
            LoopThreadError: inside the loop.
            XenonError: the translated status of a failed call (the ``grpc.RpcError`` is its
                ``__cause__``); :class:`~rxxenon.CancelledError` if the connection closes
                during the call.
        """
        return self.loop.run(self._unary(method, request, timeout), what="A blocking unary call")

    async def _unary(self, method: Callable[[], Any], request: Any, deadline: float | None) -> Any:
        try:
            return await method()(request, timeout=deadline)
        except grpc.RpcError as error:
            raise self.map_error(error) from error

    # --- hot and cold Observables -----------------------------------------------------------

    def start(
        self,
        source: Source[T],
        observer: abc.ObserverBase[T],
        *,
        initial_demand: int | None = None,
    ) -> Pump[T]:
        """Start pumping ``source`` into ``observer`` now; return the pump's handle."""
        pump = Pump(self, source, observer, initial_demand)
        pump.start()
        return pump

    def observable(self, source: Source[T]) -> Observable[T]:
        """A cold Observable: each subscription runs ``source`` on the loop.

        Emits what the source yields, completes when it ends, and sends its exceptions,
        translated, to ``on_error``. Disposing cancels it. Notifications of one subscription
        are serial and in order, off the loop (inside it without an executor).
        """

        def subscribe(
            observer: abc.ObserverBase[T], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            pump = self.start(source, observer)
            return Disposable(pump.cancel)

        return reactivex.create(subscribe)

    # --- the four call shapes ---------------------------------------------------------------

    def unary(self, method: Callable[[], Any], request: Any) -> Observable[Any]:
        """Unary call: emits the one response, then completes."""
        return self.observable(CallSource(method, request=request, unary_reply=True))

    def server_stream(
        self,
        method: Callable[[], Any],
        request: Any,
        convert: Callable[[Any], Any] | None = None,
    ) -> Observable[Any]:
        """Server-streaming call: emits each response, completes with the call.

        ``convert``, if given, turns each response into what is emitted, on the loop thread
        (keep it cheap); responses it turns into None are skipped. An exception it raises
        ends the stream with that error.
        """
        return self.observable(CallSource(method, request=request, convert=convert))

    def client_stream(
        self, method: Callable[[], Any], requests: Observable[Any] | RequestBuffer[Any]
    ) -> Observable[Any]:
        """Client-streaming call: sends ``requests``, emits the one response, completes.

        An error in ``requests`` cancels the call and reaches ``on_error`` as it is.
        """
        return self._streaming(method, requests, unary_reply=True)

    def bidi(
        self, method: Callable[[], Any], requests: Observable[Any] | RequestBuffer[Any]
    ) -> Observable[Any]:
        """Bidirectional call: sends ``requests`` while emitting each response.

        Completion of ``requests`` half-closes the call; an error in it cancels the call and
        reaches ``on_error`` as it is. Completes when the server ends the call.
        """
        return self._streaming(method, requests, unary_reply=False)

    def _streaming(
        self,
        method: Callable[[], Any],
        requests: Observable[Any] | RequestBuffer[Any],
        unary_reply: bool,
    ) -> Observable[Any]:
        """A cold Observable of a streaming-request call. Each subscription subscribes to
        ``requests`` before it returns (so a hot source loses nothing sent after that), then
        starts the call; disposing cancels the call and that subscription."""

        def subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            buffer = self._buffer_for(requests)
            source = CallSource(method, buffer=lambda: buffer, unary_reply=unary_reply)
            pump = self.start(source, observer)

            def dispose() -> None:
                pump.cancel()
                buffer.close()

            return Disposable(dispose)

        return reactivex.create(subscribe)

    def bidi_source(self, method: Callable[[], Any], buffer: RequestBuffer[Any]) -> CallSource:
        """A bidirectional call fed by ``buffer``, as a source for :meth:`start`."""
        return CallSource(method, buffer=lambda: buffer)

    def _buffer_for(self, requests: Observable[Any] | RequestBuffer[Any]) -> RequestBuffer[Any]:
        if isinstance(requests, RequestBuffer):
            return requests
        buffer: RequestBuffer[Any] = RequestBuffer(self.loop)
        buffer.feed_from(requests)
        return buffer


class _FirstStatus:
    """The status a streaming-request call ended with first, kept against grpc.aio's habit of
    replacing it.

    When the server ends the call while a request is being written (xenon-grpc refuses an
    upload right after its first message), the failed write makes grpc.aio replace the
    server's status by ``INTERNAL "Internal error from Core"``
    (https://github.com/grpc/grpc/issues/36066). The status is recorded the moment the call
    gets it (done callbacks run then, synchronously), so that the server's can be reported.
    """

    _CORE_ERROR = "Internal error from Core"

    def __init__(self, call: Any) -> None:
        self._error: grpc.aio.AioRpcError | None = None
        call.add_done_callback(self._record)

    def _record(self, call: Any) -> None:
        # Runs inside grpc.aio as the status is set: it must not raise.
        try:
            code = _ready(call.code())
            if code is None or code == grpc.StatusCode.OK or self._error is not None:
                return
            self._error = grpc.aio.AioRpcError(
                code,
                _ready(call.initial_metadata()) or grpc.aio.Metadata(),
                _ready(call.trailing_metadata()) or grpc.aio.Metadata(),
                _ready(call.details()),
                _ready(call.debug_error_string()),
            )
        except Exception:
            log.debug("could not record a call's status", exc_info=True)

    def instead_of(self, error: grpc.RpcError) -> grpc.RpcError:
        """The error to report for a call that failed with ``error``."""
        replaced = (
            isinstance(error, grpc.aio.AioRpcError)
            and error.code() == grpc.StatusCode.INTERNAL
            and error.details() == self._CORE_ERROR
        )
        if replaced and self._error is not None and self._error.details() != self._CORE_ERROR:
            return self._error
        return error


def _ready(awaitable: Any) -> Any:
    """The value of a coroutine that finishes without waiting (None if it would wait)."""
    try:
        awaitable.send(None)
    except StopIteration as stop:
        return stop.value
    awaitable.close()
    return None
