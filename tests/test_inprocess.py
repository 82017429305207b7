"""The in-process channel does what a grpc.aio channel to a grpc.aio server does.

Each behaviour test runs twice on one event loop against the bytes-level test service
(``tests/adapter_service.py``): through a real ``grpc.aio`` channel and server on loopback
(``grpc``), and through :class:`~rxxenon._inprocess.InProcessChannel` (``in-process``). The
rest covers what only the in-process channel has: its flow-control window, its message size
limits, closing, and ``rxxenon.connect()`` using it for its own embedded server.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import grpc.aio
import pytest

import rxxenon
from rxxenon._inprocess import WINDOW, InProcessChannel, MethodHandlerRegistry
from rxxenon._loop import LoopThread
from tests.adapter_service import SERVICE, ShapesState, ShapesStubs, _handlers, method_handlers
from tests.conftest import python_job
from tests.helpers import wait_for
from tests.server._serve import ROOT
from tests.server._support import poll_until, process_gone, read_pid

T = TypeVar("T")
EOF: Any = getattr(grpc.aio, "EOF")  # noqa: B009
FOUR_MIB = 4 * 1024 * 1024


class Transport:
    """The test service behind one kind of channel, with everything on one loop."""

    def __init__(self, kind: str, loop: LoopThread) -> None:
        self.kind = kind
        self.loop = loop
        self.state = ShapesState()
        self._server: grpc.aio.Server | None = None
        self.channel: Any = loop.run(self._open())
        self.stubs: ShapesStubs = loop.run(_on_loop(lambda: ShapesStubs(self.channel)))

    async def _open(self) -> Any:
        if self.kind == "in-process":
            registry = MethodHandlerRegistry()
            registry.add_registered_method_handlers(SERVICE, method_handlers(self.state))
            return InProcessChannel(registry.handlers, max_send_message_length=FOUR_MIB)
        self._server = grpc.aio.server()
        self._server.add_generic_rpc_handlers((_handlers(self.state),))
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        return grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", FOUR_MIB)]
        )

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run(coroutine, timeout=20)

    def close(self) -> None:
        self.loop.run(self.channel.close(None))
        if self._server is not None:
            self.loop.run(self._server.stop(None))


async def _on_loop(make: Any) -> Any:
    return make()


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread("test-inprocess")
    yield thread
    thread.close()


@pytest.fixture(params=["grpc", "in-process"])
def transport(request: pytest.FixtureRequest, loop: LoopThread) -> Iterator[Transport]:
    transport = Transport(request.param, loop)
    yield transport
    transport.close()


@pytest.fixture
def in_process(loop: LoopThread) -> Iterator[Transport]:
    transport = Transport("in-process", loop)
    yield transport
    transport.close()


async def _status(call: Any) -> tuple[grpc.StatusCode, str]:
    return await call.code(), await call.details()


async def _read_all(call: Any) -> list[bytes]:
    return [message async for message in call]


async def _writes(call: Any, requests: list[bytes]) -> None:
    for request in requests:
        await call.write(request)
    await call.done_writing()


def _rpc_error(transport: Transport, coroutine: Coroutine[Any, Any, Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        transport.run(coroutine)
    return caught.value


# --- what both channels do -------------------------------------------------------------------


def test_unary_echoes(transport: Transport) -> None:
    async def call() -> tuple[bytes, tuple[grpc.StatusCode, str]]:
        unary = transport.stubs.unary(b"hello")
        return await unary, await _status(unary)

    assert transport.run(call()) == (b"hello", (grpc.StatusCode.OK, ""))


def test_unary_abort_raises_its_status(transport: Transport) -> None:
    async def call() -> bytes:
        return await transport.stubs.unary(b"fail:NOT_FOUND:no such thing")  # type: ignore[no-any-return]

    error = _rpc_error(transport, call())
    assert (error.code(), error.details()) == (grpc.StatusCode.NOT_FOUND, "no such thing")


def test_server_stream_ends_with_eof(transport: Transport) -> None:
    async def call() -> tuple[list[bytes], Any]:
        stream = transport.stubs.server_stream(b"count:5")
        messages = [await stream.read() for _ in range(5)]
        return messages, await stream.read()

    messages, end = transport.run(call())
    assert messages == [b"0", b"1", b"2", b"3", b"4"]
    assert end is EOF


def test_messages_sent_before_an_abort_arrive_before_the_error(transport: Transport) -> None:
    received: list[bytes] = []

    async def call() -> None:
        stream = transport.stubs.server_stream(b"fail-after:3")
        async for message in stream:
            received.append(message)

    error = _rpc_error(transport, call())
    assert received == [b"0", b"1", b"2"]
    assert (error.code(), error.details()) == (grpc.StatusCode.INTERNAL, "failed mid-stream")


def test_client_stream_gets_every_request_then_answers(transport: Transport) -> None:
    async def call() -> bytes:
        upload = transport.stubs.client_stream()
        await _writes(upload, [b"a", b"bc", b"", b"def"])
        return await upload  # type: ignore[no-any-return]

    assert transport.run(call()) == b"abcdef"


def test_client_stream_refused_mid_way(transport: Transport) -> None:
    async def call() -> bytes:
        upload = transport.stubs.client_stream()
        await upload.write(b"fine")
        await upload.write(b"fail")
        return await upload  # type: ignore[no-any-return]

    error = _rpc_error(transport, call())
    assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "bad request")


def test_bidi_echoes_until_half_close(transport: Transport) -> None:
    async def call() -> list[bytes]:
        bidi = transport.stubs.bidi()
        replies = []
        for word in (b"one", b"two", b"three"):
            await bidi.write(word)
            replies.append(await bidi.read())
        await bidi.done_writing()
        assert await bidi.read() is EOF
        assert await bidi.code() == grpc.StatusCode.OK
        return replies

    assert transport.run(call()) == [b"one", b"two", b"three"]


def test_cancel_ends_the_handler_and_the_reader(transport: Transport) -> None:
    async def call() -> tuple[bool, bool, grpc.StatusCode]:
        stream = transport.stubs.server_stream(b"forever:16")
        await stream.read()
        cancelled = stream.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stream.read()
        return cancelled, stream.cancel(), await stream.code()

    assert transport.run(call()) == (True, False, grpc.StatusCode.CANCELLED)
    assert wait_for(lambda: transport.state.snapshot()["active"] == 0)
    assert transport.state.snapshot()["cancelled"] == 1


def test_a_deadline_ends_the_call(transport: Transport) -> None:
    async def call() -> None:
        stream = transport.stubs.server_stream(b"forever:16", timeout=0.2)
        while True:
            await stream.read()

    error = _rpc_error(transport, call())
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert wait_for(lambda: transport.state.snapshot()["active"] == 0)


def test_an_unknown_method_is_unimplemented(transport: Transport) -> None:
    async def call() -> Any:
        method = transport.channel.unary_unary(f"/{SERVICE}/NoSuchMethod")
        return await method(b"x")

    assert _rpc_error(transport, call()).code() == grpc.StatusCode.UNIMPLEMENTED


def test_a_request_over_the_send_limit_is_refused(transport: Transport) -> None:
    async def call() -> bytes:
        return await transport.stubs.unary(b"x" * (FOUR_MIB + 1))  # type: ignore[no-any-return]

    assert _rpc_error(transport, call()).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert transport.state.snapshot()["started"] == 0


def test_done_callbacks_see_the_status(transport: Transport) -> None:
    seen: list[grpc.StatusCode] = []

    async def call() -> None:
        unary = transport.stubs.unary(b"fail:ABORTED:stop")

        def done(finished: Any) -> None:
            code = finished.code()
            # grpc.aio's code() is a coroutine that is ready once the call is done.
            try:
                code.send(None)
            except StopIteration as stop:
                seen.append(stop.value)

        unary.add_done_callback(done)
        with pytest.raises(grpc.aio.AioRpcError):
            await unary

    transport.run(call())
    assert wait_for(lambda: seen == [grpc.StatusCode.ABORTED])


# --- the in-process channel's own ------------------------------------------------------------


def test_a_writer_waits_once_its_window_is_full(in_process: Transport) -> None:
    """Unread responses stop the handler after WINDOW messages: nothing buffers unbounded."""

    async def call() -> tuple[int, int]:
        stream = in_process.stubs.server_stream(b"forever:65536")
        for _ in range(100):  # let the handler run as far as it can
            await asyncio.sleep(0)
        stalled = in_process.state.snapshot()["written"]
        await stream.read()
        for _ in range(100):
            await asyncio.sleep(0)
        after_one_read = in_process.state.snapshot()["written"]
        stream.cancel()
        return stalled, after_one_read

    assert in_process.run(call()) == (WINDOW, WINDOW + 1)


def test_a_client_writer_waits_for_the_handler(in_process: Transport) -> None:
    """A handler that does not read stops the client's writes after WINDOW requests."""

    async def call() -> int:
        bidi = in_process.stubs.bidi()
        await bidi.write(b"flood:1000")  # the handler now writes, never reads
        sent = 0

        async def write_many() -> None:
            nonlocal sent
            for _ in range(100):
                await bidi.write(b"x")
                sent += 1

        writer = asyncio.ensure_future(write_many())
        for _ in range(100):
            await asyncio.sleep(0)
        stalled = sent
        bidi.cancel()
        with pytest.raises((asyncio.CancelledError, grpc.aio.AioRpcError)):
            await writer
        return stalled

    assert in_process.run(call()) == WINDOW


def test_closing_the_channel_cancels_calls_and_refuses_new_ones(in_process: Transport) -> None:
    async def call() -> tuple[bool, grpc.StatusCode, grpc.StatusCode]:
        stream = in_process.stubs.server_stream(b"forever:16")
        await stream.read()
        await in_process.channel.close()
        try:
            await stream.read()
            ended = False
        except asyncio.CancelledError:
            ended = True
        later = in_process.stubs.unary(b"x")
        with pytest.raises(grpc.aio.AioRpcError):
            await later
        return ended, await stream.code(), await later.code()

    ended, code, later = in_process.run(call())
    assert (ended, code, later) == (True, grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
    assert wait_for(lambda: in_process.state.snapshot()["active"] == 0)
    assert in_process.channel.active_calls == 0


def test_calls_leave_nothing_behind(in_process: Transport) -> None:
    async def calls() -> None:
        for i in range(50):
            await in_process.stubs.unary(b"%d" % i)
            await _read_all(in_process.stubs.server_stream(b"count:3"))
            stream = in_process.stubs.server_stream(b"forever:8")
            await stream.read()
            stream.cancel()

    in_process.run(calls())
    assert wait_for(lambda: in_process.state.snapshot()["active"] == 0)
    assert in_process.channel.active_calls == 0


async def _tasks_named(prefix: str) -> list[str]:
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(prefix)]


def test_handlers_run_as_tasks_on_the_callers_loop(in_process: Transport) -> None:
    async def call() -> tuple[list[str], list[str]]:
        stream = in_process.stubs.server_stream(b"forever:8")
        await stream.read()
        during = await _tasks_named("in-process")
        stream.cancel()
        for _ in range(10):
            await asyncio.sleep(0)
        return during, await _tasks_named("in-process")

    during, after = in_process.run(call())
    assert during == [f"in-process /{SERVICE}/ServerStream"]
    assert after == []


# --- rxxenon.connect() -----------------------------------------------------------------------


def test_connect_calls_its_own_embedded_server_in_process() -> None:
    with rxxenon.connect() as xenon, xenon.local_scheduler() as scheduler:
        assert xenon.server is not None
        assert isinstance(xenon._channel, InProcessChannel)
        job = scheduler.submit_batch_job(python_job("pass"))
        # Another client reaches the same server over gRPC, at its loopback port.
        with rxxenon.connect(xenon.server.address) as other:
            (same,) = [s for s in other.list_schedulers() if s.id == scheduler.id]
            assert job.id in [j.id for j in same.get_jobs()]
        assert scheduler.wait_until_done(job, 30).exit_code == 0


def test_connections_that_come_and_go_do_not_pile_up_exit_hooks() -> None:
    hooks: list[object] = threading._threading_atexits  # type: ignore[attr-defined]
    with rxxenon.connect():  # the first one may register the hook
        pass
    before = len(hooks)
    for _ in range(3):
        with rxxenon.connect():
            pass
    assert len(hooks) == before


def test_the_jobs_of_a_connection_nobody_closed_are_killed_at_exit(tmp_path: Path) -> None:
    script = f"""
import rxxenon
from tests.server._support import read_pid

xenon = rxxenon.connect()
scheduler = xenon.local_scheduler()
job = scheduler.submit_batch_job(rxxenon.JobDescription(
    executable="sh",
    arguments=["-c", "echo $$ > pid; exec sleep 60"],
    working_directory={str(tmp_path)!r},
))
read_pid({str(tmp_path / "pid")!r})  # the job runs; the program ends without closing
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, timeout=30, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr
    poll_until(lambda: process_gone(read_pid(tmp_path / "pid")), what="the job to be killed")
