"""Fixtures shared by the client tests: one embedded server per session, a scheduler per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

import rxxenon

PYTHON = sys.executable


@pytest.fixture(scope="session")
def xenon() -> Iterator[rxxenon.Connection]:
    """A connection to an embedded server started for the test session."""
    with rxxenon.connect() as connection:
        yield connection


@pytest.fixture
def scheduler(xenon: rxxenon.Connection) -> Iterator[rxxenon.Scheduler]:
    """A fresh local scheduler; closed after the test."""
    with xenon.local_scheduler() as scheduler:
        yield scheduler


def python_job(
    code: str, *args: str, queue: str = "unlimited", **fields: object
) -> rxxenon.JobDescription:
    """A job description running ``python -c code args...`` (flush to be seen early)."""
    return rxxenon.JobDescription(
        executable=PYTHON,
        arguments=["-c", code, *args],
        queue_name=queue,
        **fields,  # type: ignore[arg-type]
    )
