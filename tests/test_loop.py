"""The loop thread: blocking hand-offs to it, and work deferred until it is idle."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from rxxenon import CancelledError, DeadlineExceededError, LoopThreadError
from rxxenon._loop import MAX_IDLE_WAIT, LoopThread


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
