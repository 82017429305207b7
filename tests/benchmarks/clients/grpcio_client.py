"""Plain synchronous grpcio with the generated stubs of ``rxxenon._proto``: no client library.

This is the best a straightforward Python client does against a server: one blocking stub
call per operation, requests from a generator, responses from the call's iterator.
"""

from __future__ import annotations

import queue
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

import grpc

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from tests.benchmarks.clients._common import (
    UPPER_CASER,
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

#: As rxxenon's: take messages of any size (xenon-grpc sends a whole file as one message).
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", -1)]


class Client:
    """A channel, the two stubs, and a local scheduler and file system on the server."""

    def __init__(self, address: str) -> None:
        self.channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.scheduler_stub = pb_grpc.SchedulerServiceStub(self.channel)
        self.fs_stub = pb_grpc.FileSystemServiceStub(self.channel)
        self._scheduler: pb.Scheduler | None = None

    @property
    def scheduler(self) -> pb.Scheduler:
        if self._scheduler is None:
            self._scheduler = self.scheduler_stub.localScheduler(pb.Empty())
        return self._scheduler

    def interactive(
        self, description: pb.JobDescription, stdin: Iterable[bytes]
    ) -> tuple[str, Iterator[pb.SubmitInteractiveJobResponse]]:
        """Start an interactive job; its id (first response) and the remaining responses."""

        def requests() -> Iterator[pb.SubmitInteractiveJobRequest]:
            yield pb.SubmitInteractiveJobRequest(scheduler=self.scheduler, description=description)
            for data in stdin:
                yield pb.SubmitInteractiveJobRequest(stdin=data)

        # grpc-stubs types the call as a CallIterator without __next__; it is an iterator.
        call: Any = self.scheduler_stub.submitInteractiveJob(requests())
        return next(call).job.id, call

    def wait_done(self, job_id: str, timeout: float) -> pb.JobStatus:
        request = pb.WaitRequest(
            scheduler=self.scheduler, job=pb.Job(id=job_id), timeout=int(timeout * 1000)
        )
        status: pb.JobStatus = self.scheduler_stub.waitUntilDone(request)
        return status

    def close(self) -> None:
        self.channel.close()


def _job(executable: str, *arguments: str, queue_name: str = "multi") -> pb.JobDescription:
    return pb.JobDescription(executable=executable, arguments=arguments, queue_name=queue_name)


def pingpong(p: Params) -> Result:
    client = Client(p.address)
    lines: queue.Queue[bytes | None] = queue.Queue()
    job_id, responses = client.interactive(
        _job(p.python, "-u", "-c", UPPER_CASER), until_none(lines)
    )
    times = echo_round_trips(p, lines, responses)
    client.wait_done(job_id, p.timeout)
    client.close()
    return latency_result(times, "ms")


def _read_stdout(p: Params, slow: SlowConsumer | None) -> Result:
    client = Client(p.address)
    start = time.perf_counter()
    job_id, responses = client.interactive(_job("head", "-c", str(p.stream_bytes), "/dev/zero"), ())
    total = 0
    for response in responses:
        size = len(response.stdout)
        total += size
        if slow is not None:
            slow.consume(size)
    client.wait_done(job_id, p.timeout)
    elapsed = time.perf_counter() - start
    client.close()
    return stream_result(total, p.stream_bytes, elapsed)


def stdout_stream(p: Params) -> Result:
    return _read_stdout(p, None)


def slow_consumer(p: Params) -> Result:
    return _read_stdout(p, SlowConsumer(p.slow_chunk, p.slow_sleep))


def stdin_stream(p: Params) -> Result:
    client = Client(p.address)
    start = time.perf_counter()
    job_id, responses = client.interactive(_job("wc", "-c"), chunks(p.stdin_bytes, p.chunk))
    counted = int(b"".join(r.stdout for r in responses))
    client.wait_done(job_id, p.timeout)
    elapsed = time.perf_counter() - start
    client.close()
    return stream_result(counted, p.stdin_bytes, elapsed)


def _file_system(client: Client) -> pb.FileSystem:
    fs: pb.FileSystem = client.fs_stub.create(pb.CreateFileSystemRequest(adaptor="file"))
    return fs


def file_write(p: Params) -> Result:
    client = Client(p.address)
    fs = _file_system(client)
    path = pb.Path(path=p.file_path)

    def requests() -> Iterator[pb.WriteToFileRequest]:
        yield pb.WriteToFileRequest(filesystem=fs, path=path)
        for piece in chunks(p.file_bytes, p.chunk):
            yield pb.WriteToFileRequest(buffer=piece)

    start = time.perf_counter()
    client.fs_stub.writeToFile(requests())
    elapsed = time.perf_counter() - start
    size = client.fs_stub.getAttributes(pb.PathRequest(filesystem=fs, path=path)).size
    client.close()
    return stream_result(size, p.file_bytes, elapsed)


def file_read(p: Params) -> Result:
    client = Client(p.address)
    fs = _file_system(client)
    request = pb.PathRequest(filesystem=fs, path=pb.Path(path=p.file_path))
    start = time.perf_counter()
    total = 0
    for response in client.fs_stub.readFromFile(request):
        total += len(response.buffer)
    elapsed = time.perf_counter() - start
    client.close()
    return stream_result(total, p.file_bytes, elapsed)


def batch_rate(p: Params) -> Result:
    client = Client(p.address)
    scheduler = client.scheduler
    description = _job("true")

    def submit() -> pb.Job:
        job: pb.Job = client.scheduler_stub.submitBatchJob(
            pb.SubmitBatchJobRequest(scheduler=scheduler, description=description)
        )
        return job

    def done_flags(jobs: list[pb.Job]) -> list[bool | None]:
        response = client.scheduler_stub.getJobStatuses(
            pb.GetJobStatusesRequest(scheduler=scheduler, jobs=jobs)
        )
        return [
            done_flag(s.done, s.state, pb.JobStatus.ErrorType.Name(s.error_type))
            for s in response.statuses
        ]

    result = run_batch(p.batch_jobs, submit, done_flags, p.batch_poll, p.timeout)
    client.close()
    return result


def concurrent_interactive(p: Params) -> Result:
    """All jobs start (one call each), then each gets its lines, then all are read.

    A sync grpcio stream-stream call consumes its request iterator on a thread of its own,
    so this client runs one thread per job.
    """
    client = Client(p.address)
    description = _job("cat", queue_name="unlimited")
    start = time.perf_counter()
    inputs: list[queue.Queue[bytes | None]] = []
    calls: list[tuple[str, Iterator[Any]]] = []
    failures = 0
    for _ in range(p.concurrent_jobs):
        lines: queue.Queue[bytes | None] = queue.Queue()
        try:
            calls.append(client.interactive(description, until_none(lines)))
            inputs.append(lines)
        except grpc.RpcError:
            failures += 1
    for j, lines in enumerate(inputs):
        for k in range(p.concurrent_lines):
            lines.put(concurrent_line(j, k))
        lines.put(None)
    for j, (job_id, responses) in enumerate(calls):
        expected = b"".join(concurrent_line(j, k) for k in range(p.concurrent_lines))
        try:
            output = b"".join(r.stdout for r in responses)
            status = client.wait_done(job_id, p.timeout)
            if output != expected or status.exit_code != 0:
                failures += 1
        except grpc.RpcError:
            failures += 1
    wall = time.perf_counter() - start
    client.close()
    return {"n": p.concurrent_jobs, "unit": "s", "wall_s": wall, "failures": failures}


def unary_latency(p: Params) -> Result:
    client = Client(p.address)
    try:
        return time_calls(p, lambda: client.scheduler_stub.getAdaptorNames(pb.Empty()))
    finally:
        client.close()


if __name__ == "__main__":
    main("grpcio", globals(), sys.argv[1:])
