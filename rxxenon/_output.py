"""Typed output events of an interactive job, and the hub that multicasts them.

The hub is the observer of the job's call. It hands every event to the subscribers whose
view covers it (``output``: both streams; ``stdout``; ``stderr``). An event that no
subscriber covers is *kept* (up to ``keep_limit`` bytes per stream) for the first subscriber
that will, so subscribing to ``stdout`` and then to ``stderr`` right after submitting loses
nothing. Past the limit the oldest kept bytes are discarded, so nobody reading stderr never
blocks the job; a later subscriber of that stream is then told with
:class:`OutputDiscardedError` instead of silently missing the start.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import Disposable

from rxxenon._errors import XenonError
from rxxenon._proto import xenon_pb2 as pb

__all__ = [
    "OutputDiscardedError",
    "OutputEvent",
    "OutputHub",
    "Stderr",
    "Stdout",
    "data_of",
    "event_of",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Stdout:
    """A piece of the job's standard output."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Stderr:
    """A piece of the job's standard error."""

    data: bytes


OutputEvent = Stdout | Stderr


class OutputDiscardedError(XenonError):
    """Output of a stream that nobody subscribed to was discarded before this subscription."""


_STDOUT = 1
_STDERR = 2
_BOTH = _STDOUT | _STDERR
_NAMES = {_STDOUT: "stdout", _STDERR: "stderr"}


def event_of(stream: int, data: bytes) -> OutputEvent:
    """A view's projection: the typed event (``Stdout`` or ``Stderr``)."""
    return Stdout(data) if stream == _STDOUT else Stderr(data)


def data_of(stream: int, data: bytes) -> bytes:
    """A view's projection: the bytes alone."""
    return data


class _Subscriber(Generic[T]):
    """One subscription to a view; its lock serialises its notifications."""

    def __init__(
        self, streams: int, observer: abc.ObserverBase[T], project: Callable[[int, bytes], T]
    ) -> None:
        self.streams = streams
        self.observer = observer
        self.project = project
        self.lock = threading.RLock()
        self.active = True

    def send(self, stream: int, data: bytes) -> bool:
        """Deliver one piece of output; False if the observer raised (it then got ``on_error``)."""
        with self.lock:
            if not self.active:
                return True
            try:
                self.observer.on_next(self.project(stream, data))
                return True
            except Exception as exc:
                self.active = False
                log.debug("a job output subscriber raised in on_next", exc_info=exc)
                failure = exc
                self._guarded(lambda: self.observer.on_error(failure))
                return False

    def end(self, error: Exception | None) -> None:
        with self.lock:
            if not self.active:
                return
            self.active = False
            if error is None:
                self._guarded(self.observer.on_completed)
            else:
                err = error
                self._guarded(lambda: self.observer.on_error(err))

    @staticmethod
    def _guarded(action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:
            log.exception("a job output subscriber raised in on_error/on_completed")


class _Kept:
    """Events of one stream that no subscriber has taken yet, bounded in bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        #: (sequence number, stream, data)
        self.events: deque[tuple[int, int, bytes]] = deque()
        self.size = 0
        self.discarded = 0

    def keep(self, sequence: int, stream: int, data: bytes) -> None:
        self.events.append((sequence, stream, data))
        self.size += len(data)
        while self.size > self.limit:
            _, _, dropped = self.events.popleft()
            self.size -= len(dropped)
            self.discarded += len(dropped)

    def take(self) -> list[tuple[int, int, bytes]]:
        events = list(self.events)
        self.events.clear()
        self.size = 0
        return events


class OutputHub(abc.ObserverBase[pb.SubmitInteractiveJobResponse]):
    """Observer of an interactive call; multicasts its output to the job's views.

    The first response carries the job id and resolves :attr:`job_id`; the rest are events.
    ``on_first_subscriber`` runs once, when the first view is subscribed (the job's pump
    waits for it before reading past the job id).
    """

    def __init__(self, keep_limit: int, on_first_subscriber: Callable[[], None]) -> None:
        self.job_id: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._on_first_subscriber: Callable[[], None] | None = on_first_subscriber
        self._lock = threading.Lock()
        self._subscribers: list[_Subscriber[object]] = []
        #: The subscribers of each stream, kept up to date with ``_subscribers``.
        self._takers: dict[int, tuple[_Subscriber[object], ...]] = {_STDOUT: (), _STDERR: ()}
        self._kept = {_STDOUT: _Kept(keep_limit), _STDERR: _Kept(keep_limit)}
        self._started = False  # the job id has arrived
        self._ended = threading.Event()
        self._error: Exception | None = None
        self._sequence = 0

    # --- the call side (one notification at a time, on a delivery thread or the loop) -----

    def on_next(self, value: pb.SubmitInteractiveJobResponse) -> None:
        # The hot path: xenon-grpc sends output in 1 KiB messages.
        if not self._started:
            self._started = True
            self.job_id.set_result(value.job.id)
            return
        if data := value.stdout:
            self._dispatch(_STDOUT, data)
        if data := value.stderr:
            self._dispatch(_STDERR, data)

    def on_error(self, error: Exception) -> None:
        if not self.job_id.done():
            self.job_id.set_exception(error)
        self._end(error)

    def on_completed(self) -> None:
        if not self.job_id.done():
            self.job_id.set_exception(
                XenonError("the server ended the interactive call without a job id")
            )
        self._end(None)

    def _dispatch(self, stream: int, data: bytes) -> None:
        # Read without the lock first: the tuple is replaced whole, and a subscriber that
        # was just added holds its own lock until it has had the kept events.
        takers = self._takers[stream]
        if not takers:
            with self._lock:
                takers = self._takers[stream]
                if not takers:
                    self._sequence += 1
                    self._kept[stream].keep(self._sequence, stream, data)
                    return
        for subscriber in takers:
            if not subscriber.send(stream, data):
                self._remove(subscriber)

    def _end(self, error: Exception | None) -> None:
        with self._lock:
            if self._ended.is_set():
                return
            self._error = error
            self._ended.set()
            subscribers, self._subscribers = self._subscribers, []
            self._update_takers()
        for subscriber in subscribers:
            subscriber.end(error)

    def end(self) -> None:
        """Complete every view now (the call was detached); later subscribers complete too."""
        self._end(None)

    # --- the views --------------------------------------------------------------------------

    @property
    def ended(self) -> threading.Event:
        """Set once the output has ended (completed, failed or detached)."""
        return self._ended

    def view(self, streams: int, project: Callable[[int, bytes], T]) -> Observable[T]:
        def subscribe(
            observer: abc.ObserverBase[T], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            return self._subscribe(_Subscriber(streams, observer, project))

        return Observable(subscribe)

    def _subscribe(self, subscriber: _Subscriber[T]) -> abc.DisposableBase:
        with self._lock:
            first, self._on_first_subscriber = self._on_first_subscriber, None
            subscriber.lock.acquire()  # before the lock is released: live events wait for us
            kept: list[tuple[int, int, bytes]] = []
            stores = [(s, store) for s, store in self._kept.items() if subscriber.streams & s]
            discarded = [
                f"{store.discarded} bytes of {_NAMES[stream]}"
                for stream, store in stores
                if store.discarded
            ]
            if not discarded:  # else the kept events stay for a subscriber that can use them
                for _, store in stores:
                    kept.extend(store.take())
                kept.sort(key=lambda numbered: numbered[0])
            ended, error = self._ended.is_set(), self._error
            if not ended and not discarded:
                self._subscribers.append(subscriber)  # type: ignore[arg-type]
                self._update_takers()
        try:
            if discarded:
                subscriber.end(
                    OutputDiscardedError(
                        ", ".join(discarded) + " were discarded: nobody subscribed in time "
                        "(see keep_limit of submit_interactive_job)"
                    )
                )
            else:
                for _, stream, data in kept:
                    if not subscriber.send(stream, data):
                        self._remove(subscriber)  # type: ignore[arg-type]
                        break
                if ended:
                    subscriber.end(error)
        finally:
            subscriber.lock.release()
        if first is not None:
            first()
        return Disposable(lambda: self._remove(subscriber))  # type: ignore[arg-type]

    def _remove(self, subscriber: _Subscriber[object]) -> None:
        subscriber.active = False
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)
                self._update_takers()

    def _update_takers(self) -> None:
        """Recompute :attr:`_takers` (with the lock held)."""
        for stream in (_STDOUT, _STDERR):
            self._takers[stream] = tuple(s for s in self._subscribers if s.streams & stream)


STDOUT = _STDOUT
STDERR = _STDERR
BOTH = _BOTH
