"""PyXenon 3.0.3, as users have it today, against a xenon-grpc server that is already running.

Runs in a virtualenv of its own (``tests.benchmarks.pyxenon_env``) with
``PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python``, without which PyXenon's generated code does
not import with a current protobuf. Imports nothing of rxxenon.

``xenon.init(port=P, disable_tls=True)`` connects to a server already listening on
``gethostname():P`` instead of starting its own; that is how PyXenon is pointed at the
benchmark's server. Where the host name does not resolve to a loopback address, the
channel is set on PyXenon's server object directly (what ``init`` would do).
"""

from __future__ import annotations

import ipaddress
import queue
import socket
import sys
import time
from typing import Any

import grpc  # type: ignore[import-not-found, unused-ignore]
import xenon  # type: ignore[import-not-found, unused-ignore]
from xenon.proto import xenon_pb2, xenon_pb2_grpc  # type: ignore[import-not-found, unused-ignore]
from xenon.server import __server__  # type: ignore[import-not-found, unused-ignore]

from tests.benchmarks.clients._common import (
    UPPER_CASER,
    CannotRun,
    Params,
    Result,
    SlowConsumer,
    chunks,
    concurrent_line,
    done_flag,
    echo_round_trips,
    latency_result,
    main,
    run_batch,
    stream_result,
    time_calls,
    until_none,
)


def connect(address: str) -> None:
    """Point PyXenon at the server listening on ``address`` (``host:port``)."""
    port = int(address.rsplit(":", 1)[1])
    if ipaddress.ip_address(socket.gethostbyname(socket.gethostname())).is_loopback:
        xenon.init(port=port, disable_tls=True, log_level="ERROR")
        if __server__.process is not None:
            raise RuntimeError("PyXenon started a server of its own")
        return
    __server__.port = port
    __server__.channel = grpc.insecure_channel(address)
    __server__.scheduler_stub = xenon_pb2_grpc.SchedulerServiceStub(__server__.channel)
    __server__.file_system_stub = xenon_pb2_grpc.FileSystemServiceStub(__server__.channel)


def _scheduler(address: str) -> Any:
    connect(address)
    return xenon.Scheduler.create(adaptor="local")


def _job(executable: str, *arguments: str, queue_name: str = "multi") -> Any:
    return xenon.JobDescription(
        executable=executable, arguments=list(arguments), queue_name=queue_name
    )


def pingpong(p: Params) -> Result:
    scheduler = _scheduler(p.address)
    lines: queue.Queue[bytes | None] = queue.Queue()
    job, responses = scheduler.submit_interactive_job(
        _job(p.python, "-u", "-c", UPPER_CASER), until_none(lines)
    )
    times = echo_round_trips(p, lines, responses)
    scheduler.wait_until_done(job, int(p.timeout * 1000))
    return latency_result(times, "ms")


def _read_stdout(p: Params, slow: SlowConsumer | None) -> Result:
    scheduler = _scheduler(p.address)
    start = time.perf_counter()
    job, responses = scheduler.submit_interactive_job(
        _job("head", "-c", str(p.stream_bytes), "/dev/zero"), iter(())
    )
    total = 0
    for response in responses:
        size = len(response.stdout)
        total += size
        if slow is not None:
            slow.consume(size)
    scheduler.wait_until_done(job, int(p.timeout * 1000))
    return stream_result(total, p.stream_bytes, time.perf_counter() - start)


def stdout_stream(p: Params) -> Result:
    return _read_stdout(p, None)


def slow_consumer(p: Params) -> Result:
    return _read_stdout(p, SlowConsumer(p.slow_chunk, p.slow_sleep))


def stdin_stream(p: Params) -> Result:
    scheduler = _scheduler(p.address)
    start = time.perf_counter()
    job, responses = scheduler.submit_interactive_job(
        _job("wc", "-c"), chunks(p.stdin_bytes, p.chunk)
    )
    counted = int(b"".join(r.stdout for r in responses))
    scheduler.wait_until_done(job, int(p.timeout * 1000))
    return stream_result(counted, p.stdin_bytes, time.perf_counter() - start)


def file_write(p: Params) -> Result:
    connect(p.address)
    fs = xenon.FileSystem.create(adaptor="file")
    path = xenon.Path(p.file_path)
    start = time.perf_counter()
    fs.write_to_file(path, chunks(p.file_bytes, p.chunk))
    elapsed = time.perf_counter() - start
    return stream_result(fs.get_attributes(path).size, p.file_bytes, elapsed)


def file_read(p: Params) -> Result:
    connect(p.address)
    fs = xenon.FileSystem.create(adaptor="file")
    start = time.perf_counter()
    total = 0
    try:
        for data in fs.read_from_file(xenon.Path(p.file_path)):
            total += len(data)
    except xenon.XenonException as error:
        if "RESOURCE_EXHAUSTED" in str(error):
            raise CannotRun(f"PyXenon raises {type(error).__name__}: {error}") from None
        raise
    return stream_result(total, p.file_bytes, time.perf_counter() - start)


def batch_rate(p: Params) -> Result:
    scheduler = _scheduler(p.address)
    description = _job("true")

    def submit() -> Any:
        return scheduler.submit_batch_job(description)

    def done_flags(jobs: list[Any]) -> list[bool | None]:
        statuses = scheduler.get_job_statuses([xenon_pb2.Job(id=job.id) for job in jobs])
        return [done_flag(s.done, s.state, s.error_type.name) for s in statuses]

    return run_batch(p.batch_jobs, submit, done_flags, p.batch_poll, p.timeout)


def concurrent_interactive(p: Params) -> Result:
    """As the grpcio client: all jobs start, then each gets its lines, then all are read."""
    scheduler = _scheduler(p.address)
    description = _job("cat", queue_name="unlimited")
    start = time.perf_counter()
    inputs: list[queue.Queue[bytes | None]] = []
    calls: list[tuple[Any, Any]] = []
    failures = 0
    for _ in range(p.concurrent_jobs):
        lines: queue.Queue[bytes | None] = queue.Queue()
        try:
            calls.append(scheduler.submit_interactive_job(description, until_none(lines)))
            inputs.append(lines)
        except (xenon.XenonException, grpc.RpcError):
            failures += 1
    for j, lines in enumerate(inputs):
        for k in range(p.concurrent_lines):
            lines.put(concurrent_line(j, k))
        lines.put(None)
    for j, (job, responses) in enumerate(calls):
        expected = b"".join(concurrent_line(j, k) for k in range(p.concurrent_lines))
        try:
            output = b"".join(r.stdout for r in responses)
            status = scheduler.wait_until_done(job, int(p.timeout * 1000))
            if output != expected or status.exit_code != 0:
                failures += 1
        except (xenon.XenonException, grpc.RpcError):
            failures += 1
    wall = time.perf_counter() - start
    return {"n": p.concurrent_jobs, "unit": "s", "wall_s": wall, "failures": failures}


def unary_latency(p: Params) -> Result:
    connect(p.address)
    return time_calls(p, xenon.Scheduler.get_adaptor_names)


if __name__ == "__main__":
    main("pyxenon", globals(), sys.argv[1:])
