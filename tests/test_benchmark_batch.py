"""The benchmark's batch poll copes with xenon-grpc's job-table race, and names it when the
race has broken the server for good (the real race cannot be provoked on demand)."""

from __future__ import annotations

import pytest

from tests.benchmarks.clients import _common
from tests.benchmarks.clients._common import ServerDefect, run_batch

RACE = "INTERNAL: java.util.ConcurrentModificationException"


def test_polls_that_race_now_and_then_are_repeated_and_counted() -> None:
    polls = 0

    def done_flags(jobs: list[int]) -> list[bool | None]:
        nonlocal polls
        polls += 1
        if polls <= 3:
            raise RuntimeError(RACE)
        return [True] * len(jobs)

    result = run_batch(5, lambda: object(), done_flags, poll_interval=0.001, timeout=10)
    assert result["status_poll_retries"] == 3
    assert result["n"] == 5


def test_polls_that_all_race_for_seconds_end_the_measurement_as_a_server_defect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_common, "BROKEN_TABLE_AFTER", 0.2)
    polls = 0

    def done_flags(jobs: list[int]) -> list[bool | None]:
        nonlocal polls
        polls += 1
        raise RuntimeError(RACE)

    with pytest.raises(ServerDefect, match="job table is broken"):
        run_batch(2, lambda: object(), done_flags, poll_interval=0.01, timeout=10)
    assert polls < 100  # a failed poll waits its interval too: no spinning


def test_another_error_of_a_poll_ends_the_measurement_at_once() -> None:
    def done_flags(jobs: list[int]) -> list[bool | None]:
        raise RuntimeError("UNAVAILABLE: the server went away")

    with pytest.raises(RuntimeError, match="went away"):
        run_batch(2, lambda: object(), done_flags, poll_interval=0.01, timeout=10)
