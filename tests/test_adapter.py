"""The Rx <-> grpc.aio adapter, call shape by call shape, on a small bytes-level service."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
import grpc.aio
import pytest
import reactivex
from reactivex import operators as ops

from rxxenon import (
    CancelledError,
    InternalError,
    InvalidArgumentError,
    LoopThreadError,
    NotFoundError,
    StdinBufferFullError,
)
from rxxenon import _loop as loop_module
from rxxenon._connection import _map_rpc_error
from rxxenon._loop import LoopThread
from rxxenon._rx_grpc import DeliveryPool, RequestBuffer, RxGrpc
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
    delivery: str = "pool"


def open_channel(loop: LoopThread, port: int) -> tuple[grpc.aio.Channel, ShapesStubs]:
    async def on_loop() -> tuple[grpc.aio.Channel, ShapesStubs]:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        return channel, ShapesStubs(channel)

    return loop.run(on_loop())


@contextlib.contextmanager
def adapter_on(
    shapes: ShapesServer,
    pool: DeliveryPool | ThreadPoolExecutor | None,
    stand_in: bool = False,
) -> Iterator[Adapter]:
    """An adapter to the test service whose observers run on ``pool`` (None: on the loop);
    with ``stand_in``, quick observers run on the loop's own thread before it selects."""
    loop = LoopThread("adapter-test-loop", stand_in=stand_in)
    rx = RxGrpc(loop, pool, _map_rpc_error)
    channel, stubs = open_channel(loop, shapes.port)
    yield Adapter(rx, stubs, loop)
    assert wait_for(lambda: rx.active_tasks == 0), "calls left running on the client"
    assert wait_for(lambda: shapes.state.snapshot()["active"] == 0), "calls left on the server"
    loop.run(channel.close())
    loop.close()
    if pool is not None:
        pool.shutdown(wait=True)


#: How observers are called: ``relay`` as a connection does by default (the loop's thread
#: before it selects, while quick, else the pool), ``pool`` (always a pool thread),
#: ``inline`` (inside the loop, ``delivery_threads=0``).
DELIVERIES = ("relay", "pool", "inline")


def adapter_for(shapes: ShapesServer, delivery: str) -> contextlib.AbstractContextManager[Adapter]:
    pool = None if delivery == "inline" else DeliveryPool(4, "adapter-test-delivery")
    return adapter_on(shapes, pool, stand_in=delivery == "relay")


@pytest.fixture(params=DELIVERIES[:2])
def adapter(request: pytest.FixtureRequest, shapes: ShapesServer) -> Iterator[Adapter]:
    """Observers as a connection has them by default, then always on the pool."""
    with adapter_for(shapes, request.param) as made:
        made.delivery = request.param
        yield made


@pytest.fixture
def inline(shapes: ShapesServer) -> Iterator[Adapter]:
    """Observers on the loop thread itself (``delivery_threads=0``)."""
    with adapter_on(shapes, None) as made:
        yield made


@pytest.fixture(params=DELIVERIES)
def each_delivery(request: pytest.FixtureRequest, shapes: ShapesServer) -> Iterator[Adapter]:
    """Observers in each of the three ways: for what must hold for all."""
    with adapter_for(shapes, request.param) as made:
        made.delivery = request.param
        yield made


# --- unary -----------------------------------------------------------------------------------


def test_unary_emits_the_response_then_completes(adapter: Adapter) -> None:
    result = Collector[bytes]()
    adapter.rx.unary(lambda: adapter.stubs.unary, b"hello").subscribe(result)
    result.wait()
    assert result.items == [b"hello"]
    assert result.completed
    # A quick observer: the loop's own thread before it selects, or else a pool thread.
    where = "adapter-test-loop" if adapter.delivery == "relay" else "adapter-test-delivery"
    assert all(name.startswith(where) for name in result.threads), result.threads


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
    each_delivery: Adapter, shapes: ShapesServer
) -> None:
    adapter = each_delivery
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
    each_delivery: Adapter, shapes: ShapesServer
) -> None:
    adapter = each_delivery
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


def test_on_next_raising_system_exit_ends_the_call_with_an_error(
    each_delivery: Adapter, shapes: ShapesServer
) -> None:
    adapter = each_delivery
    cancelled_before = shapes.state.snapshot()["cancelled"]

    def leave(_: bytes) -> None:
        raise SystemExit(3)

    result = Collector[bytes](on_item=leave)
    adapter.rx.server_stream(lambda: adapter.stubs.server_stream, b"forever:10").subscribe(result)
    result.wait()
    assert isinstance(result.error, RuntimeError)
    assert isinstance(result.error.__cause__, SystemExit)
    assert wait_for(lambda: shapes.state.snapshot()["cancelled"] > cancelled_before)
    after = Collector[bytes]()  # and the adapter goes on
    adapter.rx.unary(lambda: adapter.stubs.unary, b"still").subscribe(after)
    assert after.wait().items == [b"still"]


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


def bidi_ping_pong(adapter: Adapter, rounds: int) -> Collector[bytes]:
    """Echo ``0 .. rounds-1`` over a bidi call, each request sent from the previous reply's
    ``on_next``; the collected replies, checked in order and completed."""
    buffer: RequestBuffer[bytes] = RequestBuffer(adapter.loop)

    def reply(message: bytes) -> None:
        n = int(message)
        if n + 1 < rounds:
            buffer.on_next(str(n + 1).encode())  # on the loop thread too: never waits
        else:
            buffer.on_completed()

    result = Collector[bytes](on_item=reply)
    adapter.rx.bidi(lambda: adapter.stubs.bidi, buffer).subscribe(result)
    buffer.on_next(b"0")
    assert result.wait().items == [str(i).encode() for i in range(rounds)]
    assert result.completed
    return result


def test_bidi_ping_pong_from_the_subscriber(adapter: Adapter) -> None:
    bidi_ping_pong(adapter, 200)


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
    executor = DeliveryPool(2, "leak-check-delivery")
    rx = RxGrpc(loop, executor, _map_rpc_error)
    channel, stubs = open_channel(loop, shapes.port)
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


@pytest.mark.parametrize("pooled", [True, False], ids=["pool", "inline"])
def test_a_call_that_cannot_start_fails_on_on_error(
    pooled: bool, adapter: Adapter, inline: Adapter
) -> None:
    made = adapter if pooled else inline
    problem = KeyError("no such method")

    def method() -> object:
        raise problem

    result = Collector[bytes]()
    made.rx.server_stream(method, b"count:3").subscribe(result)
    assert result.wait().error is problem
    assert result.items == []


def test_any_executor_can_deliver(shapes: ShapesServer) -> None:
    with adapter_on(shapes, ThreadPoolExecutor(2, thread_name_prefix="plain-executor")) as made:
        result = Collector[bytes]()
        made.rx.server_stream(lambda: made.stubs.server_stream, b"count:300").subscribe(result)
        assert result.wait().items == [str(i).encode() for i in range(300)]
        assert result.completed
        assert result.max_concurrent_calls == 1
        assert all(name.startswith("plain-executor") for name in result.threads)


# --- the delivery pool -------------------------------------------------------------------------


def test_a_fast_stream_is_delivered_serially_and_in_order(adapter: Adapter) -> None:
    # Many small messages: the pool gets them in batches, which must not reorder or overlap.
    result = Collector[bytes]()
    adapter.rx.server_stream(lambda: adapter.stubs.server_stream, b"count:5000").subscribe(result)
    assert result.wait().items == [str(i).encode() for i in range(5000)]
    assert result.completed
    assert result.max_concurrent_calls == 1


def test_delivery_pool_starts_threads_as_needed_and_no_more() -> None:
    pool = DeliveryPool(2, "pool-test")
    release = threading.Event()
    started = threading.Semaphore(0)
    ran: list[str] = []

    def hold() -> None:
        ran.append(threading.current_thread().name)
        started.release()
        release.wait(10)

    try:
        pool.run(hold)
        assert started.acquire(timeout=5)
        pool.run(hold)  # the first thread is busy: a second one starts
        assert started.acquire(timeout=5)
        pool.run(hold)  # both are busy and that is the limit: this one waits
        assert not started.acquire(timeout=0.2)
        assert sorted(ran) == ["pool-test_0", "pool-test_1"]
        release.set()
        assert started.acquire(timeout=5)  # ... and runs once a thread is free
    finally:
        release.set()
        pool.shutdown(wait=True)
    assert len(ran) == 3
    assert not [t for t in threading.enumerate() if t.name.startswith("pool-test")]
    with pytest.raises(RuntimeError):
        pool.run(lambda: None)


def test_delivery_pool_runs_what_was_queued_before_shutting_down() -> None:
    pool = DeliveryPool(1, "pool-drain-test")
    done: list[int] = []
    for i in range(100):
        pool.run(functools.partial(done.append, i))
    pool.shutdown(wait=True)
    assert done == list(range(100))


# --- delivery on the loop thread (delivery_threads=0) ------------------------------------------


def test_inline_stream_is_delivered_on_the_loop_in_order(inline: Adapter) -> None:
    result = Collector[bytes]()
    inline.rx.server_stream(lambda: inline.stubs.server_stream, b"count:500").subscribe(result)
    assert result.wait().items == [str(i).encode() for i in range(500)]
    assert result.completed
    assert result.max_concurrent_calls == 1
    assert result.threads == {"adapter-test-loop"}


def test_inline_unary_and_errors_are_typed(inline: Adapter) -> None:
    reply = Collector[bytes]()
    inline.rx.unary(lambda: inline.stubs.unary, b"hi").subscribe(reply)
    assert reply.wait().items == [b"hi"]
    assert reply.completed
    failed = Collector[bytes]()
    inline.rx.server_stream(lambda: inline.stubs.server_stream, b"fail-after:2").subscribe(failed)
    failed.wait()
    assert failed.items == [b"0", b"1"]
    assert isinstance(failed.error, InternalError)
    assert isinstance(failed.error.__cause__, grpc.RpcError)


def test_inline_ping_pong_pushes_requests_from_on_next(inline: Adapter) -> None:
    assert bidi_ping_pong(inline, 300).threads == {"adapter-test-loop"}


def test_inline_observer_reads_nothing_ahead_and_cannot_block(inline: Adapter) -> None:
    # The pump reads the next message only after on_next returned: while an observer runs,
    # nothing of its call is queued anywhere. Blocking calls fail instead of waiting, and a
    # full request buffer refuses instead of waiting.
    full: RequestBuffer[bytes] = RequestBuffer(inline.loop, capacity=1)
    full.on_next(b"fills it")
    refusals: list[Exception] = []

    def on_item(_: bytes) -> None:
        for attempt in (
            lambda: inline.rx.call(lambda: inline.stubs.unary, b"ping"),
            lambda: full.on_next(b"one too many"),
        ):
            try:
                attempt()
            except (LoopThreadError, StdinBufferFullError) as exc:
                refusals.append(exc)

    result = Collector[bytes](on_item=on_item)
    inline.rx.server_stream(lambda: inline.stubs.server_stream, b"count:3").subscribe(result)
    assert result.wait().items == [b"0", b"1", b"2"]
    assert [type(e) for e in refusals] == [LoopThreadError, StdinBufferFullError] * 3
    full.close()


# --- blocking calls and a closing connection ---------------------------------------------------


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port that accepts connections and never answers (its backlog holds them)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.mark.parametrize("closing", ["channel", "loop"])
def test_a_blocking_call_fails_typed_when_its_connection_closes(
    closing: str, unanswered_port: int
) -> None:
    loop = LoopThread("closing-test-loop")
    rx = RxGrpc(loop, None, _map_rpc_error)
    channel, stubs = open_channel(loop, unanswered_port)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            rx.call(lambda: functools.partial(stubs.unary, wait_for_ready=True), b"x")
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    assert wait_for(lambda: loop_has_tasks(loop)), "the call did not start"
    if closing == "channel":
        loop.run(channel.close())
    loop.close()
    caller.join(10)
    assert not caller.is_alive(), "the blocking call hung"
    assert len(outcome) == 1
    assert isinstance(outcome[0], CancelledError), repr(outcome[0])
    with pytest.raises(CancelledError):  # and later calls fail at once
        rx.call(lambda: stubs.unary, b"x")


def loop_has_tasks(loop: LoopThread) -> bool:
    """Whether something runs on the loop (here: the blocking call's task)."""
    try:
        return bool(asyncio.all_tasks(loop.loop))
    except RuntimeError:  # the set changed while it was read: try again
        return False


# --- deliveries on the loop's own thread (the default) ------------------------------------------


def test_a_slow_observer_moves_to_the_pool_after_three_slow_deliveries(
    shapes: ShapesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every delivery counts as slow here: the call's first three replies (each a delivery of
    # its own in a ping-pong) run on the loop's thread, the rest on the pool.
    monkeypatch.setattr(loop_module, "SLOW_DELIVERY", 0.0)
    with adapter_for(shapes, "relay") as adapter:
        names = bidi_ping_pong(adapter, 8).threads_in_order
    assert names[:3] == ["adapter-test-loop"] * 3
    assert all(name.startswith("adapter-test-delivery") for name in names[3:]), names


def test_an_observer_held_up_now_and_then_gets_every_item_once_in_order_then_the_end(
    shapes: ShapesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stand-in takes the loop over from a held-up delivery while the pump reads on and
    # the queue fills; three such moves send the call to the pool. The drain token and the
    # take-over token must keep one delivery at a time, every item once and in order, and
    # the end after the last item. (Once held up, the loop's thread drains on what the pump
    # queued meanwhile, so where the last items go depends on timing.)
    monkeypatch.setattr(loop_module, "LOOK_PERIOD", 0.0002)

    def held_up_now_and_then(item: bytes) -> None:
        if int(item) % 100 == 99:
            time.sleep(0.003)

    with adapter_for(shapes, "relay") as adapter:
        for _ in range(10):
            result = Collector[bytes](held_up_now_and_then)
            adapter.rx.server_stream(lambda: adapter.stubs.server_stream, b"count:600").subscribe(
                result
            )
            assert result.wait().items == [str(i).encode() for i in range(600)]
            assert result.completed
            assert result.max_concurrent_calls == 1
        # Take-overs happen only to deliveries on the loop's own thread: the relay was used.
        # (Which thread a call's first item goes to depends on timing: a call that starts
        # while the stand-in still holds the loop after the previous call's end, its items go
        # to the pool.)
        assert adapter.loop.takeovers >= 10


def test_a_quick_observer_stays_on_the_loops_thread(shapes: ShapesServer) -> None:
    with adapter_for(shapes, "relay") as adapter:
        names = bidi_ping_pong(adapter, 50).threads_in_order
    # (A delivery held up by a busy machine may count as slow; three in a row move it.)
    assert names.count("adapter-test-loop") >= 25, names
