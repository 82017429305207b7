"""Rx operators for job output: decode bytes, split lines, pick a stream.

Each operator keeps its state per subscription, so the Observables they return can be
subscribed to any number of times.

Example::

    job.stdout.pipe(rxxenon.operators.decode(), rxxenon.operators.lines()).subscribe(print)
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

from reactivex import Observable, abc

from rxxenon._output import OutputEvent, Stderr, Stdout

__all__ = ["decode", "lines", "stderr_of", "stdout_of"]


def decode(
    encoding: str = "utf-8", errors: str = "strict"
) -> Callable[[Observable[bytes]], Observable[str]]:
    """Decode a stream of byte chunks to a stream of text chunks, incrementally.

    A character split across chunks is emitted whole, with the chunk that completes it.
    Empty results are not emitted. At completion, left-over bytes are decoded with
    ``errors`` (``strict``: an incomplete character ends the stream with
    ``UnicodeDecodeError`` on ``on_error``).
    """

    def operator(source: Observable[bytes]) -> Observable[str]:
        def subscribe(
            observer: abc.ObserverBase[str], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            decoder = codecs.getincrementaldecoder(encoding)(errors)

            def on_next(chunk: bytes) -> None:
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    observer.on_error(exc)
                    return
                if text:
                    observer.on_next(text)

            def on_completed() -> None:
                try:
                    text = decoder.decode(b"", final=True)
                except UnicodeDecodeError as exc:
                    observer.on_error(exc)
                    return
                if text:
                    observer.on_next(text)
                observer.on_completed()

            return source.subscribe(on_next, observer.on_error, on_completed, scheduler=scheduler)

        return Observable(subscribe)

    return operator


def lines(keepends: bool = False) -> Callable[[Observable[str]], Observable[str]]:
    """Split a stream of text chunks into lines, across chunk boundaries.

    Emits each complete line (without its ``\\n`` unless ``keepends``); a last line without
    a newline is emitted at completion. Only ``\\n`` ends a line (``\\r\\n`` keeps its
    ``\\r`` unless stripped by the caller).
    """

    def operator(source: Observable[str]) -> Observable[str]:
        def subscribe(
            observer: abc.ObserverBase[str], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            pending: list[str] = []

            def on_next(chunk: str) -> None:
                start = 0
                while (end := chunk.find("\n", start)) >= 0:
                    piece = chunk[start : end + 1 if keepends else end]
                    if pending:
                        pending.append(piece)
                        piece = "".join(pending)
                        pending.clear()
                    observer.on_next(piece)
                    start = end + 1
                if start < len(chunk):
                    pending.append(chunk[start:])

            def on_completed() -> None:
                if pending:
                    observer.on_next("".join(pending))
                    pending.clear()
                observer.on_completed()

            return source.subscribe(on_next, observer.on_error, on_completed, scheduler=scheduler)

        return Observable(subscribe)

    return operator


def _stream_of(
    kind: type[Stdout] | type[Stderr],
) -> Callable[[Observable[OutputEvent]], Observable[bytes]]:
    def operator(source: Observable[OutputEvent]) -> Observable[bytes]:
        def subscribe(
            observer: abc.ObserverBase[bytes], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            def on_next(event: OutputEvent) -> None:
                if type(event) is kind:
                    observer.on_next(event.data)

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return Observable(subscribe)

    return operator


def stdout_of() -> Callable[[Observable[OutputEvent]], Observable[bytes]]:
    """Keep the stdout events of an output stream, as bytes."""
    return _stream_of(Stdout)


def stderr_of() -> Callable[[Observable[OutputEvent]], Observable[bytes]]:
    """Keep the stderr events of an output stream, as bytes."""
    return _stream_of(Stderr)
