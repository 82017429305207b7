"""What every benchmark client shares: parameters, statistics, pacing, the result line.

Standard library only: PyXenon's client imports this module from a virtualenv that has
neither rxxenon nor reactivex.

A client process is started as::

    python -m tests.benchmarks.clients.<client> --scenario NAME --address HOST:PORT \
        --params JSON

runs that one scenario, and prints one line ``BENCH-RESULT {json}`` (the fields the
scenario measured, plus ``status`` and ``client_peak_rss_mb``) as its last line on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import resource
import statistics
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NoReturn

__all__ = [
    "MB",
    "RESULT_PREFIX",
    "UPPER_CASER",
    "CannotRun",
    "Params",
    "SlowConsumer",
    "batch_result",
    "chunks",
    "concurrent_line",
    "keep_round_trip",
    "latency_result",
    "main",
    "ping_line",
    "pong_line",
    "raise_nofile_limit",
    "run_batch",
    "stream_result",
    "time_calls",
]

#: One megabyte, as in MB/s and the sizes (200 MB = 200,000,000 bytes); RSS too.
MB = 1_000_000

#: The prefix of the one result line a client prints.
RESULT_PREFIX = "BENCH-RESULT "

#: The line echo of ``pingpong``: every client runs ``python -u -c UPPER_CASER``.
UPPER_CASER = "import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)"

Result = dict[str, Any]


class CannotRun(Exception):
    """The client cannot run this scenario; the message says why (reported, not a failure)."""


@dataclass(frozen=True)
class Params:
    """Everything a scenario needs to know; the orchestrator passes it as JSON.

    Sizes are in bytes, times in seconds.
    """

    address: str = ""
    python: str = sys.executable  # the interpreter that runs the line echo
    workdir: str = "/tmp"  # a directory for the file scenarios (removed afterwards)
    pingpong_lines: int = 500
    pingpong_warmup: int = 20
    stream_bytes: int = 200 * MB
    slow_chunk: int = 64 * 1024  # slow_consumer: sleep slow_sleep per slow_chunk bytes received
    slow_sleep: float = 0.001
    stdin_bytes: int = 100 * MB
    file_bytes: int = 100 * MB
    chunk: int = 1 << 20  # size of the pieces sent by stdin_stream and file_write
    batch_jobs: int = 200
    batch_poll: float = 0.001  # pause between two status polls of batch_rate
    concurrent_jobs: int = 1000
    concurrent_lines: int = 10
    unary_calls: int = 1000
    unary_warmup: int = 50
    timeout: float = 120.0  # what one blocking wait inside a scenario may take
    delivery_threads: int = 16  # rxxenon's connect(delivery_threads=...); 0: on the loop

    @property
    def file_path(self) -> str:
        """The file that file_write writes and file_read reads."""
        return os.path.join(self.workdir, "data.bin")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Params:
        return cls(**json.loads(text))


# --- data ------------------------------------------------------------------------------------


def chunks(total: int, size: int) -> Iterator[bytes]:
    """``total`` bytes in pieces of ``size`` (the last one shorter), sharing one buffer."""
    block = bytes(range(256)) * (size // 256) + bytes(size % 256)
    sent = 0
    while sent < total:
        piece = block if total - sent >= size else block[: total - sent]
        sent += len(piece)
        yield piece


def ping_line(i: int) -> bytes:
    """Line ``i`` sent to the line echo."""
    return b"ping %06d\n" % i


def pong_line(i: int) -> bytes:
    """The echo's reply to line ``i`` (without its newline)."""
    return b"PING %06d" % i


def concurrent_line(job: int, line: int) -> bytes:
    """Line ``line`` sent to ``cat`` job ``job`` in concurrent_interactive."""
    return b"job %04d line %02d\n" % (job, line)


class SlowConsumer:
    """Paces a reader to one ``sleep`` per ``chunk`` bytes received, whatever the message size.

    Messages of 1 KiB (xenon-grpc) and of 128 KiB (the embedded server) are thus read at the
    same rate: 1 ms per 64 KiB is at most ~65 MB/s, plus the reader's own time.
    """

    def __init__(self, chunk: int, sleep: float) -> None:
        self.chunk = chunk
        self.sleep = sleep
        self.received = 0
        self._debt = 0

    def consume(self, size: int) -> None:
        self.received += size
        self._debt += size
        if self._debt >= self.chunk:
            owed = self._debt // self.chunk
            self._debt -= owed * self.chunk
            time.sleep(owed * self.sleep)


# --- results ---------------------------------------------------------------------------------


def keep_round_trip(p: Params, times: list[float], i: int, reply: bytes, elapsed: float) -> None:
    """Check the reply to ping line ``i`` and keep its round trip, unless it warmed up.

    Raises:
        RuntimeError: the reply is not the echo of line ``i``.
    """
    if reply != pong_line(i):
        raise RuntimeError(f"reply {reply!r} to line {i}")
    if i >= p.pingpong_warmup:
        times.append(elapsed)


def until_none(source: queue.Queue[bytes | None]) -> Iterator[bytes]:
    """The items put into ``source`` until a None: a request iterator fed from a queue."""
    while (item := source.get()) is not None:
        yield item


def echo_round_trips(
    p: Params, lines: queue.Queue[bytes | None], responses: Iterator[Any]
) -> list[float]:
    """Ping-pong through a line-echo job whose stdin is fed by ``lines`` and whose responses
    (with a ``stdout`` field) come from ``responses``; returns the timed round trips (seconds),
    warm-up excluded. Closes stdin and drains the responses at the end."""
    times: list[float] = []
    pending = b""
    for i in range(p.pingpong_warmup + p.pingpong_lines):
        start = time.perf_counter()
        lines.put(ping_line(i))
        while b"\n" not in pending:
            pending += next(responses).stdout
        reply, _, pending = pending.partition(b"\n")
        keep_round_trip(p, times, i, reply, time.perf_counter() - start)
    lines.put(None)
    for _ in responses:
        pass
    return times


def _median_p90(values: Sequence[float]) -> tuple[float, float]:
    if len(values) == 1:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=10, method="inclusive")[8]


def latency_result(seconds: Sequence[float], unit: str) -> Result:
    """``n``, ``median`` and ``p90`` of round-trip times, in ``unit`` (``ms`` or ``us``)."""
    scale = {"ms": 1e3, "us": 1e6, "s": 1.0}[unit]
    median, p90 = _median_p90([s * scale for s in seconds])
    return {"n": len(seconds), "median": median, "p90": p90, "unit": unit}


def stream_result(total_bytes: int, expected: int, seconds: float) -> Result:
    """Throughput of a stream that moved ``total_bytes`` (checked against ``expected``)."""
    if total_bytes != expected:
        raise RuntimeError(f"moved {total_bytes} bytes, expected {expected}")
    return {
        "n": total_bytes,
        "unit": "bytes",
        "seconds": seconds,
        "throughput_mb_s": total_bytes / MB / seconds,
    }


def batch_result(submitted: Sequence[float], done: Sequence[float]) -> Result:
    """jobs/s (first submit to last done) and the submit-to-done latency of each job."""
    latencies = [d - s for s, d in zip(submitted, done, strict=True)]
    wall = max(done) - min(submitted)
    return {
        **latency_result(latencies, "ms"),
        "seconds": wall,
        "jobs_s": len(done) / wall,
    }


def done_flag(done: bool, state: str, error_type: str) -> bool | None:
    """What :func:`run_batch` wants to know of one status: done, not done, or forgotten
    (None: the server no longer knows the job, the ``UNKNOWN`` / ``NOT_FOUND`` entry that
    ``getJobStatuses`` gives an unknown id; see :func:`run_batch`). ``error_type`` is the
    name of the status's error type."""
    return None if state == "UNKNOWN" and error_type == "NOT_FOUND" else done


#: How xenon-grpc 3.0.1 fails a status poll that races with a submit (its job table is a
#: plain map read while another thread changes it). Kept here, in a module that needs
#: neither pytest nor rxxenon (the PyXenon client runs without them); tests/server imports it.
JAVA_TABLE_RACES = ("ConcurrentModificationException", "NullPointerException")

#: After this long (seconds) of status polls that all fail with one of those races, the
#: server's job table is taken to be broken for good (seen once: 237,821 failed polls in 120 s).
BROKEN_TABLE_AFTER = 5.0


class ServerDefect(RuntimeError):
    """The server broke in a known way of its own; the measurement says nothing of the client.

    The benchmark runs such a measurement again, with a fresh server (see ``run.py``).
    """


def run_batch(
    count: int,
    submit: Callable[[], Any],
    done_flags: Callable[[list[Any]], list[bool | None]],
    poll_interval: float,
    timeout: float,
) -> Result:
    """Submit ``count`` jobs from this thread while another thread polls for their end.

    ``submit()`` returns a job handle; ``done_flags(handles)`` says which of them are done
    (one status call for all; :func:`done_flag`). A job's latency runs from the start of its
    submit to the first poll that sees it done; jobs seen done are not polled again (Xenon
    servers forget a job once its final status was read).

    xenon-grpc 3.0.1 sometimes fails a ``getJobStatuses`` made while a job is submitted
    with ``INTERNAL java.util.ConcurrentModificationException`` (or, the same race in its
    job table, a ``NullPointerException`` on ``this.next``); such a poll is repeated, after
    the poll interval, and counted in ``status_poll_retries``. The failed poll may already
    have read, and so made the server forget, some final statuses: the repeat then finds
    those jobs unknown (``done_flags`` gives None). They are counted as done at that poll,
    and in ``forgotten_jobs``. When every poll fails so for :data:`BROKEN_TABLE_AFTER` seconds, the
    race has broken the server's table for good: :class:`ServerDefect`.
    """
    retries = 0
    forgotten = 0
    submitted: list[float] = []
    jobs: list[Any] = []
    done_at: dict[int, float] = {}
    lock = threading.Lock()
    failure: list[BaseException] = []
    deadline = time.monotonic() + timeout

    def poll() -> None:
        nonlocal retries, forgotten
        failing_since: float | None = None  # every poll since then failed with a race
        try:
            while len(done_at) < count and time.monotonic() < deadline:
                with lock:
                    pending = [i for i in range(len(jobs)) if i not in done_at]
                if pending:
                    try:
                        flags = done_flags([jobs[i] for i in pending])
                    except Exception as error:
                        if not any(race in str(error) for race in JAVA_TABLE_RACES):
                            raise
                        retries += 1
                        failing_since = failing_since or time.monotonic()
                        if time.monotonic() - failing_since > BROKEN_TABLE_AFTER:
                            raise ServerDefect(
                                f"the server's job table is broken: every status poll for "
                                f"{BROKEN_TABLE_AFTER:g} s failed ({retries} in all): {error}"
                            ) from error
                        time.sleep(poll_interval)
                        continue
                    failing_since = None
                    now = time.perf_counter()
                    for i, flag in zip(pending, flags, strict=True):
                        if flag is None:
                            forgotten += 1
                        if flag is not False:
                            done_at[i] = now
                time.sleep(poll_interval)
        except BaseException as error:
            failure.append(error)

    poller = threading.Thread(target=poll, name="batch-poller", daemon=True)
    poller.start()
    for _ in range(count):
        if failure:  # the poll has failed: the measurement is over
            break
        start = time.perf_counter()
        job = submit()
        with lock:
            submitted.append(start)
            jobs.append(job)
    poller.join(max(deadline - time.monotonic(), 0.0))
    if failure:
        raise failure[0]
    if len(done_at) < count:
        stuck = [jobs[i] for i in range(len(jobs)) if i not in done_at][:5]
        raise TimeoutError(
            f"{count - len(done_at)} of {count} jobs not done after {timeout} s "
            f"(retried polls: {retries}; first not done: {stuck!r})"
        )
    return {
        **batch_result(submitted, [done_at[i] for i in range(count)]),
        "status_poll_retries": retries,
        "forgotten_jobs": forgotten,
    }


# --- the process -----------------------------------------------------------------------------


def raise_nofile_limit() -> int:
    """Raise this process's open-files soft limit to its hard limit; return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def _peak_rss_mb() -> float:
    """This process's peak resident set size, in MB.

    Read from ``VmHWM`` in ``/proc/self/status``: ``ru_maxrss`` would do, but Linux carries
    it over ``execve``, so a child of the orchestrator would start from the orchestrator's
    own peak. ``ru_maxrss`` (KiB on Linux) only where there is no ``/proc``.
    """
    try:
        with open("/proc/self/status") as file:
            for line in file:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / MB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run one benchmark scenario.")
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--params", default="{}", help="Params as JSON")
    return parser.parse_args(argv)


def time_calls(p: Params, call: Callable[[], object]) -> Result:
    """unary_latency: ``p.unary_calls`` timed ``call()``s after ``p.unary_warmup`` untimed."""
    for _ in range(p.unary_warmup):
        call()
    times: list[float] = []
    for _ in range(p.unary_calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return latency_result(times, "us")


def main(
    client: str, scenarios: Mapping[str, object], argv: Sequence[str] | None = None
) -> NoReturn:
    """Run one scenario, print the result line, exit.

    ``scenarios`` is the client module's ``globals()``: each scenario is the function of
    its name there (``pingpong(params) -> Result``); a client without one cannot run it.

    The process ends with ``os._exit`` once the line is out, so that threads a client
    library left behind (gRPC's request-iterator threads, say) cannot hold it up.
    """
    options = _parse(argv)
    params = Params.from_json(options.params)
    result: Result = {"client_nofile": raise_nofile_limit()}
    started = time.perf_counter()
    handler = scenarios.get(options.scenario)
    try:
        if not callable(handler):
            raise CannotRun(f"{client} has no implementation of {options.scenario}")
        result.update(handler(params))
        result["status"] = "ok"
    except CannotRun as reason:
        result["status"] = f"cannot run: {reason}"
    except BaseException as error:
        traceback.print_exc(file=sys.stderr)
        result["status"] = f"failed: {type(error).__name__}: {error}"[:500]
    result["client_seconds"] = time.perf_counter() - started
    result["client_peak_rss_mb"] = _peak_rss_mb()
    sys.stderr.flush()
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    os._exit(0)
