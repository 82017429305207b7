"""Small synchronisation helpers for tests: wait for a condition, collect an Observable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from reactivex import abc

T = TypeVar("T")


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.002) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; return whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class Collector(abc.ObserverBase[T], Generic[T]):
    """Records what an Observable emits; ``done`` is set on completion or error."""

    def __init__(self, on_item: Callable[[T], Any] | None = None) -> None:
        self.items: list[T] = []
        self.error: Exception | None = None
        self.completed = False
        self.done = threading.Event()
        self.threads: set[str] = set()
        self.threads_in_order: list[str] = []  # the thread of each on_next
        self._on_item = on_item
        self._lock = threading.Lock()
        self.concurrent_calls = 0
        self.max_concurrent_calls = 0

    def on_next(self, value: T) -> None:
        with self._lock:
            self.concurrent_calls += 1
            self.max_concurrent_calls = max(self.max_concurrent_calls, self.concurrent_calls)
        try:
            self.threads.add(threading.current_thread().name)
            self.threads_in_order.append(threading.current_thread().name)
            self.items.append(value)
            if self._on_item is not None:
                self._on_item(value)
        finally:
            with self._lock:
                self.concurrent_calls -= 1

    def on_error(self, error: Exception) -> None:
        self.error = error
        self.done.set()

    def on_completed(self) -> None:
        self.completed = True
        self.done.set()

    def wait(self, timeout: float = 20.0) -> Collector[T]:
        assert self.done.wait(timeout), f"no terminal notification within {timeout} s"
        return self
