"""An in-process gRPC channel: calls go straight to a server's method handlers, on one loop.

When :func:`rxxenon.connect` starts the embedded server itself, client and server share a
process and an event loop, and a gRPC transport between them would only add cost (gRPC in
Python spends 50 to 60 µs of CPU per message on each side). :class:`InProcessChannel` has the
surface of a ``grpc.aio.Channel`` that the generated stubs and :mod:`rxxenon._rx_grpc` use,
and runs each call's handler as a task on the same loop, the way ``grpc.aio.server`` does:

* Messages are serialised by the client's serialiser and parsed by the handler's
  deserialiser (and back), so each side owns its own objects, and the message size limits
  of a real channel hold (``RESOURCE_EXHAUSTED`` past them).
* Each direction is a queue of at most :data:`WINDOW` messages: a writer waits while it is
  full, as it waits for gRPC flow control, so a slow reader slows its writer and nothing
  buffers without bound.
* Statuses are the ones the handler sets (``context.abort``, ``set_code``), ``UNKNOWN`` for
  an exception it lets escape, ``CANCELLED`` (locally: ``asyncio.CancelledError`` when
  awaited, as in grpc.aio) and ``DEADLINE_EXCEEDED`` from the client. Failed calls raise
  ``grpc.aio.AioRpcError``. Cancelling a call, its deadline, or closing the channel cancels
  the handler's task.

Everything here runs on the loop that made the channel; it knows nothing of Xenon.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Mapping, Sequence
from typing import Any, Final

import grpc
import grpc.aio

__all__ = ["WINDOW", "InProcessChannel", "MethodHandlerRegistry"]

#: Messages in flight per direction of a call before the writer waits.
WINDOW: Final = 4

#: The receive limit of a grpc.aio server with default options (the embedded server's).
SERVER_MAX_RECEIVE: Final = 4 * 1024 * 1024

_EOF: Final[Any] = getattr(grpc.aio, "EOF")  # noqa: B009  # missing from the type stubs
_LOCALLY_CANCELLED: Final = "Locally cancelled by application!"
_CHANNEL_CLOSED: Final = "Channel closed!"

Serializer = Callable[[Any], bytes] | None
Deserializer = Callable[[bytes], Any] | None


class MethodHandlerRegistry:
    """Collects method handlers the way a ``grpc.aio.Server`` does, for :class:`InProcessChannel`.

    Pass it where the generated ``add_<Service>Servicer_to_server`` functions take a server.
    """

    def __init__(self) -> None:
        self.handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def add_generic_rpc_handlers(self, generic_handlers: Sequence[Any]) -> None:
        """Ignored: generated code registers the same handlers by name as well."""

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: Mapping[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        """Register ``method_handlers`` under ``/service_name/method``."""
        for method, handler in method_handlers.items():
            self.handlers[f"/{service_name}/{method}"] = handler


class _Closed(Exception):
    """The other end of a message queue is gone."""


class _MessageQueue:
    """One direction of a call: at most :data:`WINDOW` messages, then the writer waits.

    ``finish()`` ends it for the reader (after what is queued); ``abandon()`` ends it for
    both sides at once and drops what is queued.
    """

    def __init__(self) -> None:
        self._items: deque[bytes] = deque()
        self._finished = False
        self._abandoned = False
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    async def put(self, item: bytes) -> None:
        """Queue ``item``; raises :class:`_Closed` when nobody will read it."""
        while len(self._items) >= WINDOW and not self._abandoned:
            self._writable = asyncio.get_running_loop().create_future()
            await self._writable
        if self._abandoned or self._finished:
            raise _Closed
        self._items.append(item)
        _wake(self._readable)

    async def get(self) -> bytes | None:
        """The next item, or None at the end."""
        while not self._items and not (self._finished or self._abandoned):
            self._readable = asyncio.get_running_loop().create_future()
            await self._readable
        if not self._items or self._abandoned:
            return None
        item = self._items.popleft()
        _wake(self._writable)
        return item

    def finish(self) -> None:
        self._finished = True
        _wake(self._readable)

    def abandon(self) -> None:
        self._abandoned = True
        self._items.clear()
        _wake(self._readable)
        _wake(self._writable)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class _ServicerContext:
    """The ``grpc.aio.ServicerContext`` a handler gets (the parts a handler may use)."""

    def __init__(self, call: _Call) -> None:
        self._call = call
        self.code: grpc.StatusCode | None = None
        self.details: str | None = None
        self.trailing: tuple[tuple[str, str | bytes], ...] = ()
        self.done_callbacks: list[Callable[[Any], None]] = []

    async def read(self) -> Any:
        """The next request, or ``grpc.aio.EOF`` once the client half-closed."""
        data = await self._call.requests.get()
        if data is None:
            return _EOF
        return self._call.parse_request(data)

    async def write(self, message: Any) -> None:
        """Send a response, waiting while the client has :data:`WINDOW` unread."""
        data = self._call.response_serializer(message)
        try:
            await self._call.responses.put(data)
        except _Closed:
            raise grpc.aio.UsageError("the call is over: cannot write to it") from None

    async def abort(
        self,
        code: grpc.StatusCode,
        details: str = "",
        trailing_metadata: Sequence[tuple[str, str | bytes]] = (),
    ) -> None:
        """End the call with ``code`` and ``details``; raises ``grpc.aio.AbortError``."""
        if code == grpc.StatusCode.OK:
            raise ValueError("abort() needs a status code other than OK")
        self.code, self.details, self.trailing = code, details, tuple(trailing_metadata)
        raise grpc.aio.AbortError()

    def set_code(self, code: grpc.StatusCode) -> None:
        self.code = code

    def set_details(self, details: str) -> None:
        self.details = details

    def set_trailing_metadata(self, trailing_metadata: Sequence[tuple[str, str | bytes]]) -> None:
        self.trailing = tuple(trailing_metadata)

    def cancelled(self) -> bool:
        """Whether the client cancelled the call (or its deadline passed)."""
        return self._call.ended_by_client

    def done(self) -> bool:
        return self._call.done()

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(context)`` when the call ends (at once if it has)."""
        if self._call.done():
            callback(self)
        else:
            self.done_callbacks.append(callback)

    def invocation_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self._call.metadata

    def peer(self) -> str:
        return "in-process"

    def time_remaining(self) -> float | None:
        return self._call.time_remaining()


class _Call:
    """One call, both sides: the client's call object and the handler's task.

    One class for the four call shapes: it has the parts of ``grpc.aio.UnaryUnaryCall``,
    ``UnaryStreamCall``, ``StreamUnaryCall`` and ``StreamStreamCall`` that clients use
    (awaiting it, ``read``, ``write``, ``done_writing``, ``cancel``, the status coroutines,
    done callbacks).
    """

    def __init__(
        self,
        channel: InProcessChannel,
        method: str,
        handler: grpc.RpcMethodHandler[Any, Any] | None,
        request_serializer: Serializer,
        response_deserializer: Deserializer,
        timeout: float | None,
        metadata: Any,
    ) -> None:
        self._channel = channel
        self._method = method
        self._handler = handler
        self._request_serializer = request_serializer or _identity
        self._response_deserializer = response_deserializer or _identity
        self.metadata = tuple(metadata or ())
        self.requests = _MessageQueue()
        self.responses = _MessageQueue()
        self.ended_by_client = False
        self._loop = asyncio.get_running_loop()
        self._deadline = None if timeout is None else self._loop.time() + timeout
        self._code: grpc.StatusCode | None = None
        self._details = ""
        self._trailing: tuple[tuple[str, str | bytes], ...] = ()
        self._locally_cancelled = False
        self._response: Any = None
        self._finished: asyncio.Future[None] = self._loop.create_future()
        self._callbacks: list[Callable[[Any], None]] = []
        self._half_closed = False
        self._task: asyncio.Task[None] | None = None
        self._context = _ServicerContext(self)
        self._timer = (
            None if timeout is None else self._loop.call_later(timeout, self._deadline_passed)
        )

    # --- the handler's side ----------------------------------------------------------------

    def start(self, request: Any = None, streaming_request: bool = False) -> None:
        """Start the handler (``request`` is the unary request) unless refused already."""
        if self._handler is None:
            self._end(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
            return
        if self._channel.closed:
            self._end(grpc.StatusCode.UNAVAILABLE, _CHANNEL_CLOSED)
            return
        if not streaming_request:
            try:
                data = self._serialize(request)
            except grpc.aio.AioRpcError as error:
                self._end(error.code(), error.details() or "")
                return
            request = self.parse_request(data)
        self._task = self._loop.create_task(self._serve(request), name=f"in-process {self._method}")
        self._channel.track(self)

    @property
    def response_serializer(self) -> Callable[[Any], bytes]:
        assert self._handler is not None
        return self._handler.response_serializer or _identity

    def parse_request(self, data: bytes) -> Any:
        assert self._handler is not None
        parse = self._handler.request_deserializer
        return data if parse is None else parse(data)

    async def _serve(self, request: Any) -> None:
        handler: Any = self._handler  # its functions are coroutines (typed as plain ones)
        context = self._context
        try:
            if handler.unary_unary is not None:
                self._response = self.response_serializer(
                    await handler.unary_unary(request, context)
                )
            elif handler.unary_stream is not None:
                await _stream_out(handler.unary_stream(request, context), context)
            elif handler.stream_unary is not None:
                result = await handler.stream_unary(_request_iterator(context), context)
                self._response = self.response_serializer(result)
            elif handler.stream_stream is not None:
                requests = _request_iterator(context)
                await _stream_out(handler.stream_stream(requests, context), context)
        except grpc.aio.AbortError:
            pass
        except asyncio.CancelledError:
            if not self.ended_by_client:
                raise  # the loop is closing
            return
        except Exception as error:
            if context.code is None:
                context.code = grpc.StatusCode.UNKNOWN
                context.details = f"Unexpected {type(error)}: {error}"
        code = context.code or grpc.StatusCode.OK
        self._trailing = context.trailing
        self._end(code, context.details or "")

    # --- the end ---------------------------------------------------------------------------

    def _end(self, code: grpc.StatusCode, details: str) -> None:
        """Set the status (the first one wins) and tell everyone.

        Responses the handler sent before it ended are still read (as over a network);
        when the client ended the call they are dropped.
        """
        if self._code is not None:
            return
        self._code, self._details = code, details
        if self._timer is not None:
            self._timer.cancel()
        if self.ended_by_client:
            self.responses.abandon()
        else:
            self.responses.finish()
        self.requests.abandon()
        self._finished.set_result(None)
        self._channel.untrack(self)
        for callback in self._callbacks:
            callback(self)
        for callback in self._context.done_callbacks:
            callback(self._context)

    def _end_by_client(self, code: grpc.StatusCode, details: str, local: bool) -> bool:
        if self._code is not None:
            return False
        self.ended_by_client = True
        self._locally_cancelled = local
        self._end(code, details)
        if self._task is not None:
            self._task.cancel()
        return True

    def _deadline_passed(self) -> None:
        self._end_by_client(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", local=False)

    def close_by_channel(self) -> None:
        self._end_by_client(grpc.StatusCode.CANCELLED, _CHANNEL_CLOSED, local=True)

    # --- the client's side: grpc.aio.Call ----------------------------------------------------

    def cancel(self) -> bool:
        """Cancel the call (and its handler); False if it had ended already."""
        return self._end_by_client(grpc.StatusCode.CANCELLED, _LOCALLY_CANCELLED, local=True)

    def cancelled(self) -> bool:
        return self._code == grpc.StatusCode.CANCELLED

    def done(self) -> bool:
        return self._code is not None

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        if self._code is not None:
            callback(self)
        else:
            self._callbacks.append(callback)

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(self._deadline - self._loop.time(), 0.0)

    async def initial_metadata(self) -> grpc.aio.Metadata:
        return grpc.aio.Metadata()

    async def trailing_metadata(self) -> grpc.aio.Metadata:
        await self._finished
        return grpc.aio.Metadata(*self._trailing)

    async def code(self) -> grpc.StatusCode:
        await self._finished
        assert self._code is not None
        return self._code

    async def details(self) -> str:
        await self._finished
        return self._details

    async def debug_error_string(self) -> str:
        await self._finished
        return f"in-process call {self._method}: {self._code}: {self._details}"

    async def wait_for_connection(self) -> None:
        pass

    def _raise_for_status(self) -> None:
        if self._locally_cancelled:
            raise asyncio.CancelledError
        if self._code != grpc.StatusCode.OK:
            assert self._code is not None
            raise grpc.aio.AioRpcError(
                self._code,
                grpc.aio.Metadata(),
                grpc.aio.Metadata(*self._trailing),
                self._details,
                f"in-process call {self._method}",
            )

    async def _result(self) -> Any:
        await self._finished
        self._raise_for_status()
        return self._response_deserializer(self._response)

    def __await__(self) -> Generator[Any, None, Any]:
        return self._result().__await__()

    async def read(self) -> Any:
        """The next response, or ``grpc.aio.EOF`` after the last one of a call that ended OK."""
        data = await self.responses.get()
        if data is not None:
            return self._response_deserializer(data)
        await self._finished
        self._raise_for_status()
        return _EOF

    async def _read_all(self) -> AsyncIterator[Any]:
        while (message := await self.read()) is not _EOF:
            yield message

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._read_all()

    async def write(self, request: Any) -> None:
        """Send a request, waiting while the handler has :data:`WINDOW` unread."""
        if self._code is not None:
            self._raise_for_status()
            raise asyncio.InvalidStateError("RPC already finished.")
        if self._half_closed:
            raise asyncio.InvalidStateError("RPC is half closed after calling done_writing.")
        try:
            data = self._serialize(request)
            await self.requests.put(data)
        except grpc.aio.AioRpcError as error:
            self._end_by_client(error.code(), error.details() or "", local=False)
            raise
        except _Closed:
            await self._finished
            self._raise_for_status()
            raise asyncio.InvalidStateError("RPC already finished.") from None

    async def done_writing(self) -> None:
        """Half-close: the handler reads ``EOF`` after the requests sent so far."""
        if self._code is None and not self._half_closed:
            self._half_closed = True
            self.requests.finish()

    def _serialize(self, request: Any) -> bytes:
        data = self._request_serializer(request)
        limit = self._channel.max_send_message_length
        if limit >= 0 and len(data) > limit:
            raise _size_error("Sent", len(data), limit)
        if len(data) > SERVER_MAX_RECEIVE:
            raise _size_error("Received", len(data), SERVER_MAX_RECEIVE)
        return data


def _size_error(verb: str, size: int, limit: int) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        f"{verb} message larger than max ({size} vs. {limit})",
        "in-process call",
    )


def _identity(value: Any) -> Any:
    return value


async def _request_iterator(context: _ServicerContext) -> AsyncIterator[Any]:
    while (request := await context.read()) is not _EOF:
        yield request


async def _stream_out(result: Any, context: _ServicerContext) -> None:
    """Write what a streaming handler yields (an async generator), or await its coroutine."""
    if inspect.isasyncgen(result):
        async for response in result:
            await context.write(response)
    elif result is not None:
        await result


class _MultiCallable:
    """What ``channel.unary_unary(...)`` and the like return: calling it starts a call."""

    def __init__(
        self,
        channel: InProcessChannel,
        method: str,
        request_serializer: Serializer,
        response_deserializer: Deserializer,
        streaming_request: bool,
    ) -> None:
        self._channel = channel
        self._method = method
        self._request_serializer = request_serializer
        self._response_deserializer = response_deserializer
        self._streaming_request = streaming_request

    def __call__(
        self,
        request: Any = None,
        *,
        timeout: float | None = None,
        metadata: Any = None,
        **_ignored: Any,
    ) -> _Call:
        if self._streaming_request and request is not None:
            raise ValueError("in-process streaming calls take their requests through write()")
        call = _Call(
            self._channel,
            self._method,
            self._channel.handler(self._method),
            self._request_serializer,
            self._response_deserializer,
            timeout,
            metadata,
        )
        call.start(request, self._streaming_request)
        return call


def _factory(streaming_request: bool) -> Callable[..., _MultiCallable]:
    """One of the channel's multicallable factories (``unary_unary`` and the like)."""

    def make(
        channel: InProcessChannel,
        method: str,
        request_serializer: Serializer = None,
        response_deserializer: Deserializer = None,
        _registered_method: bool | None = False,
    ) -> _MultiCallable:
        return _MultiCallable(
            channel, method, request_serializer, response_deserializer, streaming_request
        )

    return make


class InProcessChannel:
    """A ``grpc.aio.Channel`` look-alike whose calls run ``handlers`` on the current loop.

    Args:
        handlers: method handlers by full method name (``/xenon.SchedulerService/create``),
            as a :class:`MethodHandlerRegistry` collects them.
        max_send_message_length: the client's send limit in bytes (-1: none).
    """

    def __init__(
        self,
        handlers: Mapping[str, grpc.RpcMethodHandler[Any, Any]],
        *,
        max_send_message_length: int = -1,
    ) -> None:
        self._handlers = handlers
        self.max_send_message_length = max_send_message_length
        self._calls: set[_Call] = set()
        self.closed = False

    def handler(self, method: str) -> grpc.RpcMethodHandler[Any, Any] | None:
        return self._handlers.get(method)

    def track(self, call: _Call) -> None:
        if not call.done():
            self._calls.add(call)

    def untrack(self, call: _Call) -> None:
        self._calls.discard(call)

    @property
    def active_calls(self) -> int:
        """Calls not ended yet (for leak checks)."""
        return len(self._calls)

    # grpc.aio.Channel's four factories; the request's shape is all that tells them apart.
    unary_unary = _factory(streaming_request=False)
    unary_stream = _factory(streaming_request=False)
    stream_unary = _factory(streaming_request=True)
    stream_stream = _factory(streaming_request=True)

    async def channel_ready(self) -> None:
        """Ready at once: there is nothing to connect."""

    async def close(self, grace: float | None = None) -> None:
        """Cancel every call in progress (``CANCELLED``, ``asyncio.CancelledError`` when
        awaited); later calls fail with ``UNAVAILABLE``. Idempotent."""
        self.closed = True
        calls = list(self._calls)
        for call in calls:
            call.close_by_channel()
        # Let the cancelled handlers run their clean-up before the caller goes on.
        await asyncio.sleep(0)

    async def __aenter__(self) -> InProcessChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
