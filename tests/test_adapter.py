"""The Rx <-> grpc.aio adapter, call shape by call shape, on a small bytes-level service."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
import grpc.aio
import pytest
import reactivex
from reactivex import operators as ops

from rxxenon import (
    InternalError,
    InvalidArgumentError,
    LoopThreadError,
    NotFoundError,
    StdinBufferFullError,
)
from rxxenon._connection import _map_rpc_error
from rxxenon._loop import LoopThread
from rxxenon._rx_grpc import RequestBuffer, RxGrpc
from tests.adapter_service import ShapesServer, ShapesStubs
from tests.helpers import Collector, wait_for


@pytest.fixture(scope="module")
def shapes() -> Iterator[ShapesServer]:
    server = ShapesServer()
    yield server
    server.stop()


@dataclass
class Adapter:
    rx: RxGrpc
    stubs: ShapesStubs
    loop: LoopThread


@pytest.fixture
def adapter(shapes: ShapesServer) -> Iterator[Adapter]:
    loop = LoopThread("adapter-test-loop")
    executor = ThreadPoolExecutor(4, thread_name_prefix="adapter-test-delivery")
    rx = RxGrpc(loop, executor, _map_rpc_error)

    async def open_channel() -> tuple[grpc.aio.Channel, ShapesStubs]:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{shapes.port}")
        return channel, ShapesStubs(channel)

    channel, stubs = loop.run(open_channel())
    yield Adapter(rx, stubs, loop)
    assert wait_for(lambda: rx.active_tasks == 0), "calls left running on the client"
    assert wait_for(lambda: shapes.state.snapshot()["active"] == 0), "calls left on the server"
    loop.run(channel.close())
    loop.close()
    executor.shutdown(wait=True)


# --- unary -----------------------------------------------------------------------------------


def test_unary_emits_the_response_then_completes(adapter: Adapter) -> None:
    result = Collector[bytes]()
    adapter.rx.unary(lambda: adapter.stubs.unary, b"hello").subscribe(result)
    result.wait()
    assert result.items == [b"hello"]
    assert result.completed
    assert all(name.startswith("adapter-test-delivery") for name in result.threads)


def test_unary_error_arrives_typed_on_on_error(adapter: Adapter) -> None:
    result = Collector[bytes]()
    adapter.rx.unary(lambda: adapter.stubs.unary, b"fail:NOT_FOUND:no such thing").subscribe(result)
    result.wait()
    assert isinstance(result.error, NotFoundError)
    assert result.error.details == "no such thing"
    assert isinstance(result.error.__cause__, grpc.RpcError)


def test_blocking_call_returns_and_raises_typed(adapter: Adapter) -> None:
    assert adapter.rx.call(lambda: adapter.stubs.unary, b"ping") == b"ping"
    with pytest.raises(InvalidArgumentError) as raised:
        adapter.rx.call(lambda: adapter.stubs.unary, b"fail:INVALID_ARGUMENT:bad")
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert isinstance(raised.value.__cause__, grpc.RpcError)


def test_blocking_call_on_the_loop_thread_fails_instead_of_deadlocking(adapter: Adapter) -> None:
    async def call_from_loop() -> BaseException | None:
        try:
            adapter.rx.call(lambda: adapter.stubs.unary, b"ping")
        except LoopThreadError as exc:
            return exc
        return None

    assert isinstance(adapter.loop.run(call_from_loop()), LoopThreadError)


# --- server streaming ------------------------------------------------------------------------


def test_server_stream_emits_in_order_then_completes(adapter: Adapter) -> None:
    result = Collector[bytes]()
    adapter.rx.server_stream(lambda: adapter.stubs.server_stream, b"count:200").subscribe(result)
    result.wait()
    assert result.items == [str(i).encode() for i in range(200)]
    assert result.completed
    assert result.max_concurrent_calls == 1


def test_server_stream_error_mid_stream_follows_the_items(adapter: Adapter) -> None:
    result = Collector[bytes]()
    adapter.rx.server_stream(lambda: adapter.stubs.server_stream, b"fail-after:3").subscribe(result)
    result.wait()
    assert result.items == [b"0", b"1", b"2"]
    assert isinstance(result.error, InternalError)
    assert result.error.details == "failed mid-stream"


def test_server_stream_dispose_mid_stream_cancels_the_call(
    adapter: Adapter, shapes: ShapesServer
) -> None:
    cancelled_before = shapes.state.snapshot()["cancelled"]
    result = Collector[bytes]()
    subscription = adapter.rx.server_stream(
        lambda: adapter.stubs.server_stream, b"forever:10"
    ).subscribe(result)
    assert wait_for(lambda: len(result.items) >= 5)
    subscription.dispose()
    assert wait_for(lambda: shapes.state.snapshot()["cancelled"] > cancelled_before)
    assert not result.done.is_set(), "a disposed subscription gets no terminal notification"


def test_each_subscription_is_a_new_call(adapter: Adapter, shapes: ShapesServer) -> None:
    started = shapes.state.snapshot()["started"]
    stream = adapter.rx.server_stream(lambda: adapter.stubs.server_stream, b"count:2")
    first, second = Collector[bytes](), Collector[bytes]()
    stream.subscribe(first)
    stream.subscribe(second)
    assert first.wait().items == second.wait().items == [b"0", b"1"]
    assert shapes.state.snapshot()["started"] == started + 2


def test_a_subscribed_call_survives_garbage_collection(
    adapter: Adapter, shapes: ShapesServer
) -> None:
    result = Collector[bytes]()
    subscription = adapter.rx.server_stream(
        lambda: adapter.stubs.server_stream, b"forever:10"
    ).subscribe(result)
    assert wait_for(lambda: len(result.items) >= 1)
    gc.collect()
    seen = len(result.items)
    assert wait_for(lambda: len(result.items) > seen + 100), "the call stopped after gc"
    assert not result.done.is_set()
    subscription.dispose()


def test_on_next_raising_cancels_the_call_and_reports_the_exception(
    adapter: Adapter, shapes: ShapesServer
) -> None:
    cancelled_before = shapes.state.snapshot()["cancelled"]
    boom = ValueError("subscriber bug")

    def explode(_: bytes) -> None:
        raise boom

    result = Collector[bytes](on_item=explode)
    adapter.rx.server_stream(lambda: adapter.stubs.server_stream, b"forever:10").subscribe(result)
    result.wait()
    assert result.error is boom
    assert len(result.items) == 1
    assert wait_for(lambda: shapes.state.snapshot()["cancelled"] > cancelled_before)


# --- client streaming ------------------------------------------------------------------------


def test_client_stream_sends_an_observable_and_emits_the_reply(adapter: Adapter) -> None:
    result = Collector[bytes]()
    requests = reactivex.from_iterable([b"a", b"b", b"c"])
    adapter.rx.client_stream(lambda: adapter.stubs.client_stream, requests).subscribe(result)
    result.wait()
    assert result.items == [b"abc"]
    assert result.completed


def test_client_stream_request_error_cancels_and_reaches_on_error(
    adapter: Adapter, shapes: ShapesServer
) -> None:
    problem = OSError("source broke")
    requests = reactivex.concat(reactivex.of(b"a"), reactivex.throw(problem))
    result = Collector[bytes]()
    adapter.rx.client_stream(lambda: adapter.stubs.client_stream, requests).subscribe(result)
    result.wait()
    assert result.error is problem


def test_client_stream_server_error_is_typed(adapter: Adapter) -> None:
    result = Collector[bytes]()
    requests = reactivex.of(b"a", b"fail", b"c")
    adapter.rx.client_stream(lambda: adapter.stubs.client_stream, requests).subscribe(result)
    result.wait()
    assert isinstance(result.error, InvalidArgumentError)
    assert result.error.details == "bad request"


def test_client_stream_dispose_mid_stream_ends_the_call(
    adapter: Adapter, shapes: ShapesServer
) -> None:
    # (A grpc.aio server sees a cancelled request stream as ended, so the test service
    # cannot count this cancel; the call ending on both sides is what shows.)
    buffer: RequestBuffer[bytes] = RequestBuffer(adapter.loop)
    buffer.on_next(b"a")
    result = Collector[bytes]()
    subscription = adapter.rx.client_stream(lambda: adapter.stubs.client_stream, buffer).subscribe(
        result
    )
    assert wait_for(lambda: shapes.state.snapshot()["active"] == 1)
    subscription.dispose()
    assert wait_for(lambda: shapes.state.snapshot()["active"] == 0)
    assert wait_for(lambda: adapter.rx.active_tasks == 0)
    buffer.on_next(b"after the end")  # dropped, does not block or raise
    assert not result.done.is_set()


# --- bidirectional ---------------------------------------------------------------------------


def test_bidi_requests_pushed_before_the_call_starts_are_sent(adapter: Adapter) -> None:
    buffer: RequestBuffer[bytes] = RequestBuffer(adapter.loop)
    for word in (b"early", b"bird"):
        buffer.on_next(word)
    buffer.on_completed()
    result = Collector[bytes]()
    adapter.rx.bidi(lambda: adapter.stubs.bidi, buffer).subscribe(result)
    assert result.wait().items == [b"early", b"bird"]
    assert result.completed


def test_bidi_ping_pong_from_the_subscriber(adapter: Adapter) -> None:
    buffer: RequestBuffer[bytes] = RequestBuffer(adapter.loop)
    rounds = 200

    def reply(message: bytes) -> None:
        n = int(message)
        if n + 1 < rounds:
            buffer.on_next(str(n + 1).encode())
        else:
            buffer.on_completed()

    result = Collector[bytes](on_item=reply)
    adapter.rx.bidi(lambda: adapter.stubs.bidi, buffer).subscribe(result)
    buffer.on_next(b"0")
    assert result.wait().items == [str(i).encode() for i in range(rounds)]
    assert result.completed


def test_bidi_server_error_mid_stream_is_typed(adapter: Adapter) -> None:
    requests = reactivex.of(b"one", b"fail", b"three")
    result = Collector[bytes]()
    adapter.rx.bidi(lambda: adapter.stubs.bidi, requests).subscribe(result)
    result.wait()
    assert result.items == [b"one"]
    assert isinstance(result.error, InternalError)


def test_bidi_request_error_cancels_the_call(adapter: Adapter, shapes: ShapesServer) -> None:
    buffer: RequestBuffer[bytes] = RequestBuffer(adapter.loop)
    result = Collector[bytes](on_item=lambda _: buffer.on_error(KeyError("stdin failed")))
    adapter.rx.bidi(lambda: adapter.stubs.bidi, buffer).subscribe(result)
    buffer.on_next(b"one")
    result.wait()
    assert isinstance(result.error, KeyError)
    assert wait_for(lambda: shapes.state.snapshot()["active"] == 0)
    assert wait_for(lambda: adapter.rx.active_tasks == 0)


def test_bidi_dispose_mid_stream_ends_the_call_and_unblocks_producers(
    adapter: Adapter, shapes: ShapesServer
) -> None:
    buffer: RequestBuffer[bytes] = RequestBuffer(adapter.loop, capacity=1)
    result = Collector[bytes]()
    subscription = adapter.rx.bidi(lambda: adapter.stubs.bidi, buffer).subscribe(result)
    buffer.on_next(b"x")
    assert wait_for(lambda: result.items == [b"x"])
    subscription.dispose()
    assert wait_for(lambda: shapes.state.snapshot()["active"] == 0)
    assert wait_for(lambda: adapter.rx.active_tasks == 0)
    assert not result.done.is_set()
    for _ in range(10):  # would block forever on a full buffer if the call's end were missed
        buffer.on_next(b"dropped")


def test_a_slow_subscriber_slows_only_its_own_call(adapter: Adapter, shapes: ShapesServer) -> None:
    release = threading.Event()
    flood_messages = 1000  # 64 MB if nothing held the server back
    written_before = shapes.state.snapshot()["written"]
    slow = Collector[bytes](on_item=lambda _: release.wait(30))
    slow_subscription = adapter.rx.bidi(
        lambda: adapter.stubs.bidi, reactivex.of(f"flood:{flood_messages}".encode())
    ).subscribe(slow)
    assert wait_for(lambda: len(slow.items) == 1)

    fast_buffer: RequestBuffer[bytes] = RequestBuffer(adapter.loop)
    rounds = 100

    def reply(message: bytes) -> None:
        n = int(message)
        if n + 1 < rounds:
            fast_buffer.on_next(str(n + 1).encode())
        else:
            fast_buffer.on_completed()

    fast = Collector[bytes](on_item=reply)
    adapter.rx.bidi(lambda: adapter.stubs.bidi, fast_buffer).subscribe(fast)
    fast_buffer.on_next(b"0")
    fast.wait()
    assert fast.completed
    assert len(fast.items) == rounds
    assert len(slow.items) == 1, "the slow subscriber was still blocked"
    # Flow control: with its subscriber blocked, the server cannot push the whole flood.
    assert not wait_for(
        lambda: shapes.state.snapshot()["written"] - written_before >= flood_messages + rounds,
        timeout=1.0,
    )
    release.set()
    slow.wait()
    assert len(slow.items) == flood_messages
    assert slow.completed
    slow_subscription.dispose()


# --- the request buffer ------------------------------------------------------------------------


def test_request_buffer_refuses_to_block_the_loop_thread(adapter: Adapter) -> None:
    buffer: RequestBuffer[bytes] = RequestBuffer(adapter.loop, capacity=1)
    buffer.on_next(b"fills it")

    async def push_on_loop() -> BaseException | None:
        try:
            buffer.on_next(b"one too many")
        except StdinBufferFullError as exc:
            return exc
        return None

    assert isinstance(adapter.loop.run(push_on_loop()), StdinBufferFullError)
    buffer.close()


def test_request_buffer_blocks_a_producer_thread_until_there_is_room(adapter: Adapter) -> None:
    buffer: RequestBuffer[bytes] = RequestBuffer(adapter.loop, capacity=2)
    pushed = threading.Event()

    def produce() -> None:
        for chunk in (b"1", b"2", b"3"):
            buffer.on_next(chunk)
        buffer.on_completed()
        pushed.set()

    producer = threading.Thread(target=produce)
    producer.start()
    assert not pushed.wait(0.3), "the third push should wait for room"
    result = Collector[bytes]()
    adapter.rx.client_stream(lambda: adapter.stubs.client_stream, buffer).subscribe(result)
    assert result.wait().items == [b"123"]
    assert pushed.wait(5)
    producer.join(5)


def test_synchronous_request_source_does_not_block_the_subscriber(adapter: Adapter) -> None:
    chunks = [bytes([65 + i % 26]) * 1000 for i in range(500)]  # many more than the buffer holds
    result = Collector[bytes]()
    adapter.rx.client_stream(
        lambda: adapter.stubs.client_stream, reactivex.from_iterable(chunks).pipe(ops.map(bytes))
    ).subscribe(result)
    assert result.wait().items == [b"".join(chunks)]


def test_closing_leaves_no_threads_behind(shapes: ShapesServer) -> None:
    before = set(threading.enumerate())
    loop = LoopThread("leak-check-loop")
    executor = ThreadPoolExecutor(2, thread_name_prefix="leak-check-delivery")
    rx = RxGrpc(loop, executor, _map_rpc_error)

    async def open_channel() -> tuple[grpc.aio.Channel, ShapesStubs]:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{shapes.port}")
        return channel, ShapesStubs(channel)

    channel, stubs = loop.run(open_channel())
    result = Collector[bytes]()
    rx.server_stream(lambda: stubs.server_stream, b"count:50").subscribe(result)
    result.wait()
    hanging = Collector[bytes]()
    rx.server_stream(lambda: stubs.server_stream, b"forever:10").subscribe(hanging)
    assert wait_for(lambda: len(hanging.items) > 0)
    loop.run(channel.close())
    loop.close()
    executor.shutdown(wait=True)
    assert wait_for(lambda: set(threading.enumerate()) <= before), (
        set(threading.enumerate()) - before
    )
