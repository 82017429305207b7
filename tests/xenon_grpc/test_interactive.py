"""Smoke test: an interactive job through rxxenon against the Java server."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

import rxxenon
from rxxenon.operators import decode, lines

pytestmark = pytest.mark.usefixtures("java_and_jar")


@pytest.fixture
def scheduler(plain_xenon: rxxenon.Connection) -> Iterator[rxxenon.Scheduler]:
    with plain_xenon.local_scheduler() as scheduler:
        yield scheduler


def test_cat_ping_pong_then_eof(scheduler: rxxenon.Scheduler) -> None:
    job = scheduler.submit_interactive_job(
        rxxenon.JobDescription(executable="cat", queue_name="multi"), timeout=30
    )
    words = [f"line {i}" for i in range(20)]
    replies: list[str] = []
    finished = threading.Event()
    remaining = iter(words)

    def send_next() -> None:
        word = next(remaining, None)
        if word is None:
            job.close_stdin()
        else:
            job.send(word + "\n")

    def on_reply(reply: str) -> None:
        replies.append(reply)
        send_next()

    job.stdout.pipe(decode(), lines()).subscribe(on_reply, on_completed=finished.set)
    send_next()
    assert finished.wait(30), f"ping-pong stalled after {replies}"
    assert replies == words
    status = job.wait(timeout=30)
    assert status.done
    assert status.exit_code == 0
