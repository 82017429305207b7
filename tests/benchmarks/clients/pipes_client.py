"""The floor: the same work with ``subprocess`` pipes and plain file I/O, no server at all."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.benchmarks.clients._common import (
    UPPER_CASER,
    CannotRun,
    Params,
    Result,
    SlowConsumer,
    batch_result,
    chunks,
    concurrent_line,
    keep_round_trip,
    latency_result,
    main,
    ping_line,
    stream_result,
)

READ_SIZE = 1 << 16

#: ``batch_rate`` runs at most this many jobs at once, as the ``multi`` queue does.
MULTI = 4


def pingpong(p: Params) -> Result:
    job = subprocess.Popen(
        [p.python, "-u", "-c", UPPER_CASER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert job.stdin is not None
    assert job.stdout is not None
    times: list[float] = []
    for i in range(p.pingpong_warmup + p.pingpong_lines):
        start = time.perf_counter()
        job.stdin.write(ping_line(i))
        job.stdin.flush()
        reply = job.stdout.readline()
        keep_round_trip(p, times, i, reply.rstrip(b"\n"), time.perf_counter() - start)
    job.stdin.close()
    if job.wait(p.timeout) != 0:
        raise RuntimeError(f"the echo exited with {job.returncode}")
    return latency_result(times, "ms")


def _read_stdout(p: Params, slow: SlowConsumer | None) -> Result:
    start = time.perf_counter()
    job = subprocess.Popen(["head", "-c", str(p.stream_bytes), "/dev/zero"], stdout=subprocess.PIPE)
    assert job.stdout is not None
    total = 0
    fd = job.stdout.fileno()
    while data := os.read(fd, READ_SIZE):
        total += len(data)
        if slow is not None:
            slow.consume(len(data))
    job.wait(p.timeout)
    return stream_result(total, p.stream_bytes, time.perf_counter() - start)


def stdout_stream(p: Params) -> Result:
    return _read_stdout(p, None)


def slow_consumer(p: Params) -> Result:
    return _read_stdout(p, SlowConsumer(p.slow_chunk, p.slow_sleep))


def stdin_stream(p: Params) -> Result:
    start = time.perf_counter()
    job = subprocess.Popen(["wc", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert job.stdin is not None
    assert job.stdout is not None
    for piece in chunks(p.stdin_bytes, p.chunk):
        job.stdin.write(piece)
    job.stdin.close()
    counted = int(job.stdout.read())
    job.wait(p.timeout)
    return stream_result(counted, p.stdin_bytes, time.perf_counter() - start)


def file_write(p: Params) -> Result:
    start = time.perf_counter()
    with open(p.file_path, "xb") as file:
        for piece in chunks(p.file_bytes, p.chunk):
            file.write(piece)
    elapsed = time.perf_counter() - start
    return stream_result(os.path.getsize(p.file_path), p.file_bytes, elapsed)


def file_read(p: Params) -> Result:
    start = time.perf_counter()
    total = 0
    with open(p.file_path, "rb") as file:
        while data := file.read(p.chunk):
            total += len(data)
    return stream_result(total, p.file_bytes, time.perf_counter() - start)


def batch_rate(p: Params) -> Result:
    """Runs ``true`` ``MULTI`` at a time; a job's latency is from its start to its reaping.

    There is no queue to wait in, so this is the floor of one job's latency, not of a
    queued job's.
    """
    started: dict[int, float] = {}
    finished: dict[int, float] = {}
    submitted = 0
    running: dict[int, subprocess.Popen[bytes]] = {}
    while len(finished) < p.batch_jobs:
        while submitted < p.batch_jobs and len(running) < MULTI:
            started[submitted] = time.perf_counter()
            running[submitted] = subprocess.Popen(["true"])
            submitted += 1
        pid, status = os.wait()
        now = time.perf_counter()
        for index, job in list(running.items()):
            if job.pid == pid:
                job.returncode = os.waitstatus_to_exitcode(status)
                finished[index] = now
                del running[index]
    order = range(p.batch_jobs)
    return batch_result([started[i] for i in order], [finished[i] for i in order])


def concurrent_interactive(p: Params) -> Result:
    start = time.perf_counter()
    jobs = [
        subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for _ in range(p.concurrent_jobs)
    ]
    expected = [
        b"".join(concurrent_line(j, k) for k in range(p.concurrent_lines))
        for j in range(p.concurrent_jobs)
    ]
    for j, job in enumerate(jobs):
        assert job.stdin is not None
        for k in range(p.concurrent_lines):
            job.stdin.write(concurrent_line(j, k))
        job.stdin.close()
    failures = 0
    for j, job in enumerate(jobs):
        assert job.stdout is not None
        output = job.stdout.read()
        job.stdout.close()
        if job.wait(p.timeout) != 0 or output != expected[j]:
            failures += 1
    return {
        "n": p.concurrent_jobs,
        "unit": "s",
        "wall_s": time.perf_counter() - start,
        "failures": failures,
    }


def unary_latency(p: Params) -> Result:
    raise CannotRun("there is no server, so no remote call to time")


if __name__ == "__main__":
    main("pipes", globals(), sys.argv[1:])
