"""A small bytes-level gRPC service with one method per call shape, for the adapter tests.

It needs no generated code: requests and responses are raw bytes. Requests are commands:

* ``Unary``: echoes the request; ``fail:<CODE>:<details>`` aborts with that status.
* ``ServerStream``: ``count:N`` streams ``0..N-1``; ``fail-after:K`` sends K messages then
  aborts with INTERNAL; ``forever:SIZE`` streams SIZE-byte messages until cancelled.
* ``ClientStream``: replies with the concatenation of every request; a request ``fail``
  aborts with INVALID_ARGUMENT.
* ``Bidi``: echoes every request; ``fail`` aborts with INTERNAL mid-stream; ``flood:N``
  answers with N messages of 64 KiB.

The service counts the calls in progress and how many messages it has written, so tests can
see a cancel arrive and flow control hold.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio

from rxxenon._loop import LoopThread

SERVICE = "rxxenon.test.Shapes"


class ShapesState:
    """What the service saw; read from the test thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.cancelled = 0
        self.written = 0
        self.started = 0

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {
                "active": self.active,
                "cancelled": self.cancelled,
                "written": self.written,
                "started": self.started,
            }


class _Tracked:
    def __init__(self, state: ShapesState, context: grpc.aio.ServicerContext) -> None:
        self.state = state
        self.context = context
        self.counted = False

    def __enter__(self) -> _Tracked:
        with self.state.lock:
            self.state.active += 1
            self.state.started += 1
        self.context.add_done_callback(self._finished)
        return self

    def _finished(self, context: Any) -> None:
        if context.cancelled():
            self._count_cancel()

    def _count_cancel(self) -> None:
        with self.state.lock:
            if not self.counted:
                self.counted = True
                self.state.cancelled += 1

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        with self.state.lock:
            self.state.active -= 1
        # A client's cancel shows as CancelledError in the handler, or, when it lands during
        # a write, as grpc's (private) ExecuteBatchError from that write.
        if exc_type is asyncio.CancelledError or getattr(exc_type, "__name__", "") == (
            "ExecuteBatchError"
        ):
            self._count_cancel()

    def wrote(self) -> None:
        with self.state.lock:
            self.state.written += 1


async def _abort(context: grpc.aio.ServicerContext, command: bytes) -> None:
    _, code, details = command.decode().split(":", 2)
    await context.abort(grpc.StatusCode[code], details)


def method_handlers(state: ShapesState) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
    """The service's handlers by method name (``Unary``, ``ServerStream``, ...)."""

    async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        with _Tracked(state, context):
            if request.startswith(b"fail:"):
                await _abort(context, request)
            return request

    async def server_stream(request: bytes, context: grpc.aio.ServicerContext) -> None:
        with _Tracked(state, context) as tracked:
            command, _, argument = request.decode().partition(":")
            if command == "count":
                for i in range(int(argument)):
                    await context.write(str(i).encode())
                    tracked.wrote()
            elif command == "fail-after":
                for i in range(int(argument)):
                    await context.write(str(i).encode())
                    tracked.wrote()
                await context.abort(grpc.StatusCode.INTERNAL, "failed mid-stream")
            elif command == "forever":
                payload = b"x" * int(argument)
                while True:
                    await context.write(payload)
                    tracked.wrote()

    async def client_stream(
        requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        with _Tracked(state, context):
            parts = []
            async for request in requests:
                if request == b"fail":
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad request")
                parts.append(request)
            return b"".join(parts)

    async def bidi(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> None:
        with _Tracked(state, context) as tracked:
            async for request in requests:
                if request == b"fail":
                    await context.abort(grpc.StatusCode.INTERNAL, "failed mid-stream")
                if request.startswith(b"flood:"):
                    for _ in range(int(request[6:])):
                        await context.write(b"f" * 65536)
                        tracked.wrote()
                    continue
                await context.write(request)
                tracked.wrote()

    return {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
    }


def _handlers(state: ShapesState) -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(SERVICE, method_handlers(state))


class ShapesServer:
    """The service on a loopback port, on an event-loop thread of its own."""

    def __init__(self) -> None:
        self.state = ShapesState()
        self._loop = LoopThread("shapes-server")
        self._server: grpc.aio.Server | None = None
        self.port = self._loop.run(self._start())

    async def _start(self) -> int:
        self._server = grpc.aio.server()
        self._server.add_generic_rpc_handlers((_handlers(self.state),))
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        return port

    def stop(self) -> None:
        assert self._server is not None
        self._loop.run(self._server.stop(None))
        self._loop.close()


class ShapesStubs:
    """Bytes-level multicallables of the service on an aio channel (made on the loop)."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.unary = channel.unary_unary(f"/{SERVICE}/Unary")
        self.server_stream = channel.unary_stream(f"/{SERVICE}/ServerStream")
        self.client_stream = channel.stream_unary(f"/{SERVICE}/ClientStream")
        self.bidi = channel.stream_stream(f"/{SERVICE}/Bidi")
