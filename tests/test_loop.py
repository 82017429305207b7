"""The loop thread: blocking hand-offs to it, and work deferred until it is idle."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from rxxenon import CancelledError, DeadlineExceededError, LoopThreadError
from rxxenon import _loop as loop_module
from rxxenon._loop import MAX_IDLE_WAIT, LoopThread
from tests.helpers import wait_for


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    thread = LoopThread("loop-test")
    yield thread
    thread.close()


def test_run_returns_the_result_and_raises_the_error(loop: LoopThread) -> None:
    async def answer() -> int:
        return 42

    async def fail() -> None:
        raise KeyError("nope")

    assert loop.run(answer()) == 42
    with pytest.raises(KeyError):
        loop.run(fail())


def test_run_times_out_and_cancels_the_work(loop: LoopThread) -> None:
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(DeadlineExceededError):
        loop.run(forever(), timeout=0.05)
    assert cancelled.wait(5)


def test_run_refuses_the_loop_thread(loop: LoopThread) -> None:
    async def nested() -> BaseException | None:
        async def inner() -> None:
            pass

        try:
            loop.run(inner())
        except LoopThreadError as exc:
            return exc
        return None

    assert isinstance(loop.run(nested()), LoopThreadError)


def test_work_waited_for_when_the_loop_closes_fails_typed() -> None:
    loop = LoopThread("closing-loop-test")
    started = threading.Event()
    outcome: list[BaseException] = []

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    def wait() -> None:
        try:
            loop.run(forever())
        except BaseException as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert started.wait(5)
    loop.close()
    waiter.join(5)
    assert not waiter.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], CancelledError)

    async def later() -> None:
        pass

    with pytest.raises(CancelledError):  # and at once afterwards, without a warning
        loop.run(later())


def test_idle_callbacks_run_when_the_loop_has_nothing_else_to_do(loop: LoopThread) -> None:
    ran = threading.Event()
    loop.call_soon(lambda: loop.when_idle(ran.set))
    assert ran.wait(5)


def test_idle_callbacks_run_soon_on_a_busy_loop(loop: LoopThread) -> None:
    # A task that never lets the loop wait: the callback still runs, after a few iterations.
    iterations = 0
    ran_after: list[int] = []

    async def busy() -> None:
        nonlocal iterations
        loop.when_idle(lambda: ran_after.append(iterations))
        while not ran_after:
            iterations += 1
            await asyncio.sleep(0)

    loop.run(busy(), timeout=5)
    assert ran_after
    assert ran_after[0] <= MAX_IDLE_WAIT


def test_a_failing_idle_callback_does_not_stop_the_loop(
    loop: LoopThread, caplog: pytest.LogCaptureFixture
) -> None:
    ran = threading.Event()

    def fail() -> None:
        raise ValueError("callback bug")

    def register() -> None:
        loop.when_idle(fail)
        loop.when_idle(ran.set)

    loop.call_soon(register)
    assert ran.wait(5)

    async def still_running() -> int:
        return 1

    assert loop.run(still_running()) == 1
    assert "idle callback" in caplog.text


# --- deliveries on the loop's own thread, and the stand-in -------------------------------------


class Relayed:
    """A delivery for :meth:`LoopThread.relay` that records where and how it ran."""

    def __init__(self, deliver: Callable[[], object] = lambda: None) -> None:
        self._deliver = deliver
        self.delivered_on: str | None = None
        self.delivered = threading.Event()
        self.moved_elsewhere = 0
        self.finished: list[tuple[bool, bool]] = []  # (slow, blocked) of each delivery

    def relay_deliver(self) -> None:
        self.delivered_on = threading.current_thread().name
        self.delivered.set()
        self._deliver()

    def relay_elsewhere(self) -> None:
        self.moved_elsewhere += 1

    def relay_finished(self, slow: bool, blocked: bool) -> None:
        self.finished.append((slow, blocked))


@pytest.fixture
def relaying() -> Iterator[LoopThread]:
    thread = LoopThread("relay-test", stand_in=True)
    yield thread
    thread.close()


async def thread_name() -> str:
    return threading.current_thread().name


def test_a_relayed_delivery_runs_on_the_loops_thread_and_the_loop_goes_on(
    relaying: LoopThread,
) -> None:
    relayed = Relayed()

    async def relay() -> bool:
        return relaying.relay(relayed)

    assert relaying.run(relay()) is True
    assert relayed.delivered.wait(5)
    assert relayed.delivered_on == "relay-test"
    assert relayed.moved_elsewhere == 0
    assert wait_for(lambda: len(relayed.finished) == 1)
    assert relaying.run(thread_name()) == "relay-test"


def test_relay_is_refused_without_a_stand_in(loop: LoopThread) -> None:
    async def relay() -> bool:
        return loop.relay(Relayed())

    assert loop.run(relay()) is False


class Unmovable(Relayed):
    """A delivery whose hand-over to the pool fails."""

    def relay_elsewhere(self) -> None:
        super().relay_elsewhere()
        raise ValueError("no pool today")


# "unmovable": the stand-in must survive a hand-over that fails, and still hand the loop back.
@pytest.mark.parametrize("behind_kind", [Relayed, Unmovable], ids=["movable", "unmovable"])
def test_the_stand_in_runs_the_loop_while_a_relayed_delivery_is_stuck(
    relaying: LoopThread, behind_kind: type[Relayed]
) -> None:
    release = threading.Event()
    stuck = Relayed(lambda: release.wait(30))
    behind = behind_kind()  # relayed in the same iteration, after the stuck one

    def relay_both() -> None:
        relaying.relay(stuck)
        relaying.relay(behind)

    relaying.call_soon(relay_both)
    assert stuck.delivered.wait(5)
    # The loop keeps running meanwhile, on the stand-in; what waited behind went elsewhere.
    assert relaying.run(thread_name(), timeout=10) == "relay-test stand-in"
    assert behind.moved_elsewhere == 1
    assert not behind.delivered.is_set()
    release.set()
    # Once the delivery returns, it is reported slow and the loop's thread takes the loop back.
    assert wait_for(lambda: stuck.finished == [(True, False)])
    assert wait_for(lambda: relaying.run(thread_name()) == "relay-test")


@pytest.mark.parametrize("debug", [False, True], ids=["normal", "asyncio-debug"])
def test_a_blocking_call_in_a_relayed_delivery_gets_its_answer(
    relaying: LoopThread, debug: bool
) -> None:
    # In asyncio's debug mode the loop checks which thread calls it: the stand-in must be
    # the loop's thread while it runs the loop (python -X dev).
    relaying.loop.set_debug(debug)
    answers: list[int] = []

    async def answer() -> int:
        return 42

    blocking = Relayed(lambda: answers.append(relaying.run(answer(), timeout=10)))
    relaying.call_soon(lambda: relaying.relay(blocking))
    assert wait_for(lambda: answers == [42])
    # It was about to block (slow or not: a quick answer is not slow).
    assert wait_for(lambda: [blocked for _, blocked in blocking.finished] == [True])


def test_a_relayed_delivery_is_not_held_back_by_a_busy_loop(relaying: LoopThread) -> None:
    # Idle callbacks wait up to MAX_IDLE_WAIT iterations of a busy loop; a relayed delivery
    # happens at the next one.
    iterations = 0
    delivered_at: list[int] = []
    relayed = Relayed(lambda: delivered_at.append(iterations))

    def busy() -> None:
        nonlocal iterations
        iterations += 1
        if iterations == 3:
            relaying.when_idle(lambda: None)
            relaying.relay(relayed)
        if iterations < 50:
            relaying.loop.call_soon(busy)

    relaying.call_soon(busy)
    assert relayed.delivered.wait(5)
    assert delivered_at[0] <= 4 < 3 + MAX_IDLE_WAIT


def test_close_during_a_stuck_relayed_delivery_refuses_work_and_ends_when_it_returns() -> None:
    relaying = LoopThread("closing-relay-test", stand_in=True)
    release = threading.Event()
    stuck = Relayed(lambda: release.wait(30))
    relaying.call_soon(lambda: relaying.relay(stuck))
    assert stuck.delivered.wait(5)
    closer = threading.Thread(target=relaying.close)
    closer.start()
    assert wait_for(lambda: relaying._closing)  # the stand-in ran the close's cancellations
    with pytest.raises(CancelledError):
        relaying.run(thread_name(), timeout=5)
    assert closer.is_alive()  # waiting for the loop's thread
    release.set()
    closer.join(15)
    assert not closer.is_alive()
    assert relaying.loop.is_closed()  # by its own thread, out of the delivery
    assert stuck.finished == [(True, False)]
    assert wait_for(
        lambda: not [t for t in threading.enumerate() if t.name.startswith("closing-relay-test")]
    )


def test_the_stand_in_sleeps_once_deliveries_stop(relaying: LoopThread) -> None:
    relayed = Relayed()
    relaying.call_soon(lambda: relaying.relay(relayed))
    assert relayed.delivered.wait(5)
    assert wait_for(lambda: relaying._stand_in_asleep)
    again = Relayed()  # and a new delivery is still relayed
    relaying.call_soon(lambda: relaying.relay(again))
    assert again.delivered.wait(5)
    assert again.delivered_on == "relay-test"


def test_close_while_a_delivery_runs_still_answers_its_blocking_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The stand-in never finds a delivery slow here: only the close, and the observer's
    # blocking call, bring it in. That call must end (the loop closes), not hang.
    monkeypatch.setattr(loop_module, "SLOW_DELIVERY", 60.0)
    relaying = LoopThread("closing-relay-test", stand_in=True)
    outcome: list[BaseException] = []

    async def forever() -> None:
        await asyncio.Event().wait()

    def deliver() -> None:
        assert wait_for(lambda: relaying._closing)
        try:
            relaying.run(forever(), timeout=30)
        except BaseException as exc:
            outcome.append(exc)

    relayed = Relayed(deliver)
    relaying.call_soon(lambda: relaying.relay(relayed))
    assert relayed.delivered.wait(5)
    relaying.close()
    assert wait_for(lambda: len(outcome) == 1)
    assert isinstance(outcome[0], CancelledError)
    assert relaying.loop.is_closed()


class ClosingOnTake(deque[object]):
    """The relayed queue of a loop that starts to close just as a delivery is taken from it:
    at the moment the loop's thread can least see it."""

    def __init__(self, loop: LoopThread) -> None:
        super().__init__()
        self.loop = loop
        self.closed = False

    def popleft(self) -> object:
        if not self.closed and threading.current_thread().name == "close-race-test":
            self.closed = True
            with self.loop._lock:  # what close() does once it has cancelled the loop's work
                self.loop._closing = True
                self.loop._lock.notify_all()
            stand_in = self.loop._stand_in
            assert stand_in is not None
            stand_in.join(0.2)  # a stand-in that did not see the delivery leaves meanwhile
        return super().popleft()


def test_a_close_as_a_delivery_starts_keeps_the_stand_in_for_it() -> None:
    # The delivery waits on the loop (as a blocking call does, but not through wait_for,
    # which refuses once closing): the stand-in must still be there to run the loop.
    relaying = LoopThread("close-race-test", stand_in=True)
    relaying._relayed = ClosingOnTake(relaying)
    served: list[bool] = []

    def wait_on_the_loop() -> None:
        done = threading.Event()
        relaying.about_to_block()
        relaying.loop.call_soon_threadsafe(done.set)
        served.append(done.wait(10))

    relayed = Relayed(wait_on_the_loop)
    try:
        relaying.call_soon(lambda: relaying.relay(relayed))
        assert wait_for(lambda: served == [True], timeout=15)
    finally:
        relaying.close()
    assert relaying.loop.is_closed()


def test_a_take_over_alone_does_not_make_a_delivery_slow(
    relaying: LoopThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stand-in may judge by the delivery before and take over one that has only just
    # started: only the delivery's own time counts. (Asked to take over here, as a close
    # asks it; SLOW_DELIVERY is long, so no delivery of this test is slow.)
    monkeypatch.setattr(loop_module, "SLOW_DELIVERY", 60.0)

    took_over: list[bool] = []

    def take_over_now() -> None:
        with relaying._lock:
            relaying._handover_asked = True
            relaying._lock.notify_all()
        took_over.append(wait_for(lambda: relaying.takeovers == 1))

    relayed = Relayed(take_over_now)
    relaying.call_soon(lambda: relaying.relay(relayed))
    assert wait_for(lambda: relayed.finished == [(False, False)])
    assert took_over == [True]
    assert relaying.run(thread_name()) == "relay-test"


def test_a_loop_thread_without_the_gil_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Deliveries rely on single list and deque operations being atomic.
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    threads = threading.active_count()
    with pytest.raises(RuntimeError, match="needs the GIL"):
        LoopThread("no-gil-test", stand_in=True)
    assert threading.active_count() == threads


def test_an_observer_raising_system_exit_leaves_the_loop_running(relaying: LoopThread) -> None:
    def exit_() -> None:
        raise SystemExit(3)

    relaying.call_soon(lambda: relaying.relay(Relayed(exit_)))
    after = Relayed()
    relaying.call_soon(lambda: relaying.relay(after))
    assert after.delivered.wait(5)
    assert relaying.run(thread_name(), timeout=5) == "relay-test"


def test_many_quick_deliveries_in_one_iteration_let_the_loop_run_between_them(
    relaying: LoopThread,
) -> None:
    # Each takes 0.3 ms, under the limit for one delivery; together they take 6 ms.
    order: list[str] = []

    def busy() -> None:
        end = time.perf_counter() + 0.0003
        while time.perf_counter() < end:
            pass
        order.append("delivery")

    many = [Relayed(busy) for _ in range(20)]

    def relay_all() -> None:
        for relayed in many:
            relaying.relay(relayed)
        relaying.loop.call_soon(order.append, "loop")  # runs in the next iteration

    relaying.call_soon(relay_all)
    assert wait_for(lambda: len(order) == 21)
    assert order.index("loop") < 20, "the loop waited for all 20 deliveries"


def test_a_blocking_call_from_the_loop_during_its_shutdown_is_refused() -> None:
    closing = LoopThread("shutdown-test", stand_in=True)
    refused: list[BaseException] = []

    async def answer() -> int:
        return 42

    async def numbers() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:  # run by the loop's shutdown_asyncgens, at close
            try:
                closing.run(answer(), timeout=5)
            except BaseException as exc:
                refused.append(exc)

    generator = numbers()

    async def start() -> int:
        return await generator.__anext__()

    assert closing.run(start()) == 1
    closing.close()
    assert len(refused) == 1
    assert isinstance(refused[0], LoopThreadError)


def test_the_stand_in_survives_system_exit_from_a_loop_callback(relaying: LoopThread) -> None:
    release = threading.Event()
    stuck = Relayed(lambda: release.wait(30))
    relaying.call_soon(lambda: relaying.relay(stuck))
    assert stuck.delivered.wait(5)
    assert relaying.run(thread_name(), timeout=10) == "relay-test stand-in"

    def leave() -> None:
        raise SystemExit(3)

    relaying.call_soon(leave)
    assert relaying.run(thread_name(), timeout=10) == "relay-test stand-in"
    release.set()
    assert wait_for(lambda: relaying.run(thread_name()) == "relay-test")


def test_a_system_exit_from_a_loop_callback_leaves_the_loop_running(
    relaying: LoopThread,
) -> None:
    def leave() -> None:
        raise SystemExit(3)

    relaying.call_soon(leave)  # on the loop's own thread, as the stand-in test above
    assert relaying.run(thread_name(), timeout=5) == "relay-test"
