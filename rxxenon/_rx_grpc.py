"""The adapter between ReactiveX and ``grpc.aio``. It knows nothing of Xenon.

Every call runs on the one event loop a :class:`~rxxenon._loop.LoopThread` owns; Rx meets
that loop at three edges:

* **Responses** are pulled from the call by a :class:`Pump` task on the loop and handed to a
  per-call :class:`_Delivery`, which calls the observer on a small shared thread pool, one
  notification at a time and in order. The delivery queue is short: when the observer is
  slow, the pump stops reading, gRPC flow control pushes back to the server, and only that
  call slows down. The loop never runs user code, so one slow subscriber cannot stall the
  other calls of the connection.
* **Requests** go through a :class:`RequestBuffer`, a bounded, thread-safe Observer. The
  call's writer task takes from it and awaits each ``write`` (gRPC flow control). A producer
  on another thread waits while the buffer is full; on the loop thread it gets
  :class:`~rxxenon.StdinBufferFullError` instead, since the loop must never wait.
* **Subscribing** starts the call, **disposing** cancels it; both work from any thread.

One method per call shape (:meth:`RxGrpc.unary`, :meth:`RxGrpc.server_stream`,
:meth:`RxGrpc.client_stream`, :meth:`RxGrpc.bidi`) returns a cold Observable: each
subscription is a new call. :meth:`RxGrpc.start` runs any async source hot, with a handle to
pause, resume and cancel it. :meth:`RxGrpc.call` is the blocking form of a unary call.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Executor
from typing import Any, Final, Generic, TypeVar

import grpc
import grpc.aio
import reactivex
from reactivex import Observable, abc
from reactivex import operators as ops
from reactivex.disposable import Disposable
from reactivex.scheduler import NewThreadScheduler

from rxxenon._errors import CancelledError, StdinBufferFullError
from rxxenon._loop import LoopThread

__all__ = ["MAX_PIECE", "Pump", "RequestBuffer", "RxGrpc", "pieces"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Req = TypeVar("Req")
Resp = TypeVar("Resp")

ErrorMapper = Callable[[Exception], Exception]
AsyncSource = Callable[[], AsyncIterator[T]]

#: grpc.aio's end-of-stream marker (missing from the type stubs).
_EOF: Final[Any] = getattr(grpc.aio, "EOF")  # noqa: B009

#: Streamed requests carry at most this many bytes of data (servers refuse messages of 4 MiB).
MAX_PIECE: Final = 1 << 20


def pieces(data: bytes) -> Iterable[bytes]:
    """``data`` cut into pieces of at most :data:`MAX_PIECE` bytes (``b""`` stays one piece)."""
    if len(data) <= MAX_PIECE:
        return (data,)
    view = memoryview(data)
    return (bytes(view[i : i + MAX_PIECE]) for i in range(0, len(data), MAX_PIECE))


_NEXT: Final = 0
_ERROR: Final = 1
_COMPLETED: Final = 2


class _Delivery(Generic[T]):
    """Hands one stream's notifications to its observer, serially and in order, on a pool.

    :meth:`put` runs on the loop and waits while ``capacity`` notifications are queued; the
    pool thread that drains the queue wakes it again. Terminal notifications never wait.
    If the observer raises, ``on_failure`` is told (it cancels the call) and the observer
    receives the exception through ``on_error``; nothing more is delivered.
    """

    def __init__(
        self,
        observer: abc.ObserverBase[T],
        executor: Executor,
        loop: LoopThread,
        capacity: int,
        on_failure: Callable[[Exception], None],
    ) -> None:
        self._observer = observer
        self._executor = executor
        self._loop = loop
        self._capacity = capacity
        self._on_failure = on_failure
        self._lock = threading.Lock()
        self._queue: deque[tuple[int, Any]] = deque()
        self._draining = False
        self._closed = False
        self._putter_waiting = False
        self._space = asyncio.Event()

    async def put(self, value: T) -> None:
        """Queue ``value`` (loop thread only), waiting while the queue is full."""
        while True:
            with self._lock:
                if self._closed:
                    return
                if len(self._queue) < self._capacity:
                    self._queue.append((_NEXT, value))
                    start = not self._draining
                    self._draining = True
                    break
                self._putter_waiting = True
                self._space.clear()
            await self._space.wait()
        if start:
            self._executor.submit(self._drain)

    def finish(self, error: Exception | None) -> None:
        """Queue the terminal notification; safe from any thread, never waits."""
        with self._lock:
            if self._closed:
                return
            self._queue.append((_ERROR, error) if error is not None else (_COMPLETED, None))
            self._closed = True
            start = not self._draining
            self._draining = True
        if start:
            self._executor.submit(self._drain)

    def dispose(self) -> None:
        """Deliver nothing more; drop what is queued."""
        with self._lock:
            self._closed = True
            self._queue.clear()
            wake = self._putter_waiting
            self._putter_waiting = False
        if wake:
            self._loop.call_soon(self._space.set)

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._draining = False
                    return
                kind, value = self._queue.popleft()
                wake = self._putter_waiting and len(self._queue) < self._capacity
                if wake:
                    self._putter_waiting = False
            if wake:
                self._loop.call_soon(self._space.set)
            try:
                if kind == _NEXT:
                    self._observer.on_next(value)
                elif kind == _ERROR:
                    self._observer.on_error(value)
                else:
                    self._observer.on_completed()
            except Exception as exc:
                self._observer_failed(exc, terminal=kind != _NEXT)

    def _observer_failed(self, exc: Exception, terminal: bool) -> None:
        self.dispose()
        self._on_failure(exc)
        if terminal:
            log.error("an observer raised in on_error/on_completed", exc_info=exc)
            return
        try:
            self._observer.on_error(exc)
        except Exception:
            log.exception("an observer raised in on_next, then again in on_error")


class Pump(Generic[T]):
    """Runs one async source on the loop and feeds its items to one observer.

    Created and started by :meth:`RxGrpc.start`. ``initial_demand`` (None: no limit) is how
    many items are read before the pump waits for :meth:`resume`.
    """

    def __init__(
        self,
        bridge: RxGrpc,
        source: AsyncSource[T],
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
        iterator = self._source()
        error: Exception | None = None
        try:
            while True:
                if self._demand == 0:
                    await self._resumed.wait()
                try:
                    item = await anext(iterator)
                except StopAsyncIteration:
                    break
                if self._demand is not None:
                    self._demand -= 1
                await self._delivery.put(item)
        except asyncio.CancelledError:
            if self._cancelled:
                return  # disposed: the observer expects nothing more
            # The channel closed under the call, or the loop is shutting down.
            self._delivery.finish(CancelledError("the call was cancelled: its connection closed"))
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            return
        except Exception as exc:
            error = self._bridge.map_error(exc)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        self._delivery.finish(error)


class RequestBuffer(abc.ObserverBase[T]):
    """A bounded, thread-safe Observer feeding the request side of one call.

    * ``on_next`` queues an item. On any thread but the loop's it waits while ``capacity``
      items are queued; on the loop thread it raises :class:`~rxxenon.StdinBufferFullError`
      instead. Items pushed before the call is up are kept and sent once it is.
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
        thread waits instead of the caller's. The subscription is disposed when the call ends.
        """
        self._source_subscription = source.pipe(ops.subscribe_on(NewThreadScheduler())).subscribe(
            observer or self
        )

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
        executor: the pool on which observers are called.
        map_error: turns an exception raised by a call into the one observers receive.
        capacity: notifications queued per call before its reading pauses.
    """

    def __init__(
        self,
        loop: LoopThread,
        executor: Executor,
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

        ``method`` returns the stub's multicallable (it is looked up on the loop).

        Raises:
            LoopThreadError: on the loop thread.
            XenonError: the translated status of a failed call.
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
        source: AsyncSource[T],
        observer: abc.ObserverBase[T],
        *,
        initial_demand: int | None = None,
    ) -> Pump[T]:
        """Start pumping ``source`` into ``observer`` now; return the pump's handle."""
        pump = Pump(self, source, observer, initial_demand)
        pump.start()
        return pump

    def observable(self, source: AsyncSource[T]) -> Observable[T]:
        """A cold Observable: each subscription runs ``source()`` on the loop.

        Emits what the source yields, completes when it ends, and sends its exceptions,
        translated, to ``on_error``. Disposing cancels it.
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

        async def source() -> AsyncIterator[Any]:
            yield await method()(request)

        return self.observable(source)

    def server_stream(
        self,
        method: Callable[[], Any],
        request: Any,
        convert: Callable[[Any], Any] | None = None,
    ) -> Observable[Any]:
        """Server-streaming call: emits each response, completes with the call.

        ``convert``, if given, turns each response into what is emitted, on the loop thread
        (keep it cheap); responses it turns into None are skipped.
        """

        async def source() -> AsyncIterator[Any]:
            call = method()(request)
            try:
                while (message := await call.read()) is not _EOF:
                    if convert is None:
                        yield message
                    elif (converted := convert(message)) is not None:
                        yield converted
            finally:
                call.cancel()

        return self.observable(source)

    def client_stream(
        self, method: Callable[[], Any], requests: Observable[Any] | RequestBuffer[Any]
    ) -> Observable[Any]:
        """Client-streaming call: sends ``requests``, emits the one response, completes.

        An error in ``requests`` cancels the call and reaches ``on_error`` as it is.
        """

        def source() -> AsyncIterator[Any]:
            return self._streaming_source(method, self._buffer_for(requests), unary_reply=True)

        return self.observable(source)

    def bidi(
        self, method: Callable[[], Any], requests: Observable[Any] | RequestBuffer[Any]
    ) -> Observable[Any]:
        """Bidirectional call: sends ``requests`` while emitting each response.

        Completion of ``requests`` half-closes the call; an error in it cancels the call and
        reaches ``on_error`` as it is. Completes when the server ends the call.
        """

        def source() -> AsyncIterator[Any]:
            return self._streaming_source(method, self._buffer_for(requests), unary_reply=False)

        return self.observable(source)

    def bidi_source(
        self, method: Callable[[], Any], buffer: RequestBuffer[Any]
    ) -> AsyncSource[Any]:
        """The async source of a bidirectional call fed by ``buffer``, for :meth:`start`."""
        return lambda: self._streaming_source(method, buffer, unary_reply=False)

    def _buffer_for(self, requests: Observable[Any] | RequestBuffer[Any]) -> RequestBuffer[Any]:
        if isinstance(requests, RequestBuffer):
            return requests
        buffer: RequestBuffer[Any] = RequestBuffer(self.loop)
        buffer.feed_from(requests)
        return buffer

    async def _streaming_source(
        self, method: Callable[[], Any], buffer: RequestBuffer[Any], unary_reply: bool
    ) -> AsyncIterator[Any]:
        call = method()()
        request_error: list[Exception] = []
        first_status = _FirstStatus(call)

        async def write_requests() -> None:
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
                request_error.append(exc)
                call.cancel()
            finally:
                buffer.close()

        writer = asyncio.ensure_future(write_requests())
        try:
            if unary_reply:
                yield await call
            else:
                while (message := await call.read()) is not _EOF:
                    yield message
        except (grpc.RpcError, asyncio.CancelledError) as error:
            # A call cancelled because its requests failed ends with CANCELLED (or, awaited,
            # with asyncio.CancelledError): report the requests' error instead.
            if request_error:
                raise request_error[0] from None
            if isinstance(error, grpc.RpcError):
                raise first_status.instead_of(error) from None
            raise
        finally:
            writer.cancel()
            call.cancel()
            buffer.close()


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
