"""rxxenon, used as its README shows: Observers for stdin, Observables for output and files."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from reactivex import Observable

import rxxenon
from rxxenon.operators import decode, lines
from tests.benchmarks.clients._common import (
    UPPER_CASER,
    Params,
    Result,
    SlowConsumer,
    chunks,
    concurrent_line,
    done_flag,
    keep_round_trip,
    latency_result,
    main,
    ping_line,
    run_batch,
    stream_result,
    time_calls,
)

T = TypeVar("T")


class Completion:
    """Set when an Observable completes or fails; :meth:`wait` re-raises its error."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.error: Exception | None = None

    def on_completed(self) -> None:
        self._event.set()

    def on_error(self, error: Exception) -> None:
        self.error = error
        self._event.set()

    def wait(self, timeout: float) -> None:
        if not self._event.wait(timeout):
            raise TimeoutError(f"not complete after {timeout} s")
        if self.error is not None:
            raise self.error


def consume(source: Observable[T], on_next: Callable[[T], Any], timeout: float) -> None:
    """Subscribe ``on_next`` to ``source`` and wait for its end."""
    done = Completion()
    source.subscribe(on_next, done.on_error, done.on_completed)
    done.wait(timeout)


def _connect(p: Params) -> rxxenon.Connection:
    """A connection to the server at ``p.address``; without one, ``rxxenon.connect()``'s
    own embedded server, in this process. Observers run on ``p.delivery_threads`` delivery
    threads (0: on the connection's event loop)."""
    return rxxenon.connect(p.address or None, delivery_threads=p.delivery_threads)


def _job(executable: str, *arguments: str, queue: str = "multi") -> rxxenon.JobDescription:
    return rxxenon.JobDescription(
        executable=executable, arguments=list(arguments), queue_name=queue
    )


def pingpong(p: Params) -> Result:
    """The reply stream paces the requests: each reply's handler sends the next line."""
    total = p.pingpong_warmup + p.pingpong_lines
    times: list[float] = []
    with _connect(p) as xenon, xenon.local_scheduler() as scheduler:
        job = scheduler.submit_interactive_job(
            _job(p.python, "-u", "-c", UPPER_CASER), timeout=p.timeout
        )
        done = Completion()
        state = {"index": 0, "sent": 0.0}

        def send(index: int) -> None:
            state["sent"] = time.perf_counter()
            job.stdin.on_next(ping_line(index))

        def on_reply(reply: str) -> None:
            elapsed = time.perf_counter() - state["sent"]
            index = int(state["index"])
            try:
                keep_round_trip(p, times, index, reply.encode(), elapsed)
            except RuntimeError as error:
                done.on_error(error)
                return
            state["index"] = index + 1
            if index + 1 < total:
                send(index + 1)
            else:
                done.on_completed()

        job.stdout.pipe(decode(), lines()).subscribe(on_reply, done.on_error)
        send(0)
        done.wait(p.timeout)
        job.stdin.on_completed()
        job.wait(p.timeout)
    return latency_result(times, "ms")


def _read_stdout(p: Params, slow: SlowConsumer | None) -> Result:
    received = 0

    def on_chunk(chunk: bytes) -> None:
        nonlocal received
        received += len(chunk)
        if slow is not None:
            slow.consume(len(chunk))

    with _connect(p) as xenon, xenon.local_scheduler() as scheduler:
        start = time.perf_counter()
        job = scheduler.submit_interactive_job(
            _job("head", "-c", str(p.stream_bytes), "/dev/zero"), timeout=p.timeout
        )
        consume(job.stdout, on_chunk, p.timeout)
        job.wait(p.timeout)
        elapsed = time.perf_counter() - start
    return stream_result(received, p.stream_bytes, elapsed)


def stdout_stream(p: Params) -> Result:
    return _read_stdout(p, None)


def slow_consumer(p: Params) -> Result:
    return _read_stdout(p, SlowConsumer(p.slow_chunk, p.slow_sleep))


def stdin_stream(p: Params) -> Result:
    with _connect(p) as xenon, xenon.local_scheduler() as scheduler:
        start = time.perf_counter()
        job = scheduler.submit_interactive_job(_job("wc", "-c"), timeout=p.timeout)
        output: list[bytes] = []
        done = Completion()
        job.stdout.subscribe(output.append, done.on_error, done.on_completed)
        for piece in chunks(p.stdin_bytes, p.chunk):
            job.stdin.on_next(piece)
        job.stdin.on_completed()
        done.wait(p.timeout)
        job.wait(p.timeout)
        elapsed = time.perf_counter() - start
    return stream_result(int(b"".join(output)), p.stdin_bytes, elapsed)


def file_write(p: Params) -> Result:
    with _connect(p) as xenon, xenon.create_file_system("file") as fs:
        start = time.perf_counter()
        fs.write(p.file_path, chunks(p.file_bytes, p.chunk)).run()
        elapsed = time.perf_counter() - start
        size = fs.get_attributes(p.file_path).size
    return stream_result(size, p.file_bytes, elapsed)


def file_read(p: Params) -> Result:
    received = 0

    def on_chunk(chunk: bytes) -> None:
        nonlocal received
        received += len(chunk)

    with _connect(p) as xenon, xenon.create_file_system("file") as fs:
        start = time.perf_counter()
        consume(fs.read(p.file_path), on_chunk, p.timeout)
        elapsed = time.perf_counter() - start
    return stream_result(received, p.file_bytes, elapsed)


def batch_rate(p: Params) -> Result:
    description = _job("true")
    with _connect(p) as xenon, xenon.local_scheduler() as scheduler:

        def done_flags(jobs: list[rxxenon.Job]) -> list[bool | None]:
            statuses = scheduler.get_job_statuses(jobs)
            return [done_flag(s.done, s.state, s.error_type.name) for s in statuses]

        return run_batch(
            p.batch_jobs,
            lambda: scheduler.submit_batch_job(description),
            done_flags,
            p.batch_poll,
            p.timeout,
        )


def concurrent_interactive(p: Params) -> Result:
    """All jobs start, each output is subscribed, each gets its lines and end of input."""
    description = _job("cat", queue="unlimited")
    failures = 0
    with _connect(p) as xenon, xenon.local_scheduler() as scheduler:
        start = time.perf_counter()
        jobs: list[rxxenon.InteractiveJob] = []
        for _ in range(p.concurrent_jobs):
            try:
                jobs.append(scheduler.submit_interactive_job(description, timeout=p.timeout))
            except rxxenon.XenonError:
                failures += 1
        outputs: list[list[bytes]] = []
        completions: list[Completion] = []
        for job in jobs:
            output: list[bytes] = []
            done = Completion()
            job.stdout.subscribe(output.append, done.on_error, done.on_completed)
            outputs.append(output)
            completions.append(done)
        for j, job in enumerate(jobs):
            for k in range(p.concurrent_lines):
                job.stdin.on_next(concurrent_line(j, k))
            job.stdin.on_completed()
        for j, job in enumerate(jobs):
            expected = b"".join(concurrent_line(j, k) for k in range(p.concurrent_lines))
            try:
                completions[j].wait(p.timeout)
                status = job.wait(p.timeout)
                if b"".join(outputs[j]) != expected or status.exit_code != 0:
                    failures += 1
            except (rxxenon.XenonError, TimeoutError):
                failures += 1
        wall = time.perf_counter() - start
    return {"n": p.concurrent_jobs, "unit": "s", "wall_s": wall, "failures": failures}


def unary_latency(p: Params) -> Result:
    with _connect(p) as xenon:
        return time_calls(p, xenon.get_scheduler_adaptor_names)


if __name__ == "__main__":
    main("rxxenon", globals(), sys.argv[1:])
