"""Bare ``grpc.aio`` with the generated stubs: the transport rxxenon is built on, and nothing
else.

One asyncio loop in the main thread awaits each call directly: no Rx, no thread hand-offs,
no translation of errors. What rxxenon adds on top of this is its adapter's own overhead;
what this gives up against plain (synchronous) grpcio is the price of ``grpc.aio`` itself.
Only the scenarios where that difference is in question are here.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import grpc.aio

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from tests.benchmarks.clients._common import (
    UPPER_CASER,
    Params,
    Result,
    keep_round_trip,
    latency_result,
    main,
    ping_line,
    stream_result,
)

#: As rxxenon's: take messages of any size.
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", -1)]


def _run(
    p: Params, scenario: Callable[[pb_grpc.SchedulerServiceStub], Awaitable[Result]]
) -> Result:
    """Run ``scenario(stub)`` on a fresh loop with a ready channel to ``p.address``."""

    async def with_channel() -> Result:
        async with grpc.aio.insecure_channel(p.address, options=CHANNEL_OPTIONS) as channel:
            await asyncio.wait_for(channel.channel_ready(), 30)
            return await scenario(pb_grpc.SchedulerServiceStub(channel))

    return asyncio.run(with_channel())


async def _interactive(
    stub: pb_grpc.SchedulerServiceStub, executable: str, *arguments: str
) -> tuple[pb.Scheduler, str, Any]:
    """Start an interactive job on queue multi: its scheduler, its id, and the call."""
    scheduler = await stub.localScheduler(pb.Empty())
    call: Any = stub.submitInteractiveJob()
    description = pb.JobDescription(executable=executable, arguments=arguments, queue_name="multi")
    await call.write(pb.SubmitInteractiveJobRequest(scheduler=scheduler, description=description))
    first = await call.read()
    return scheduler, first.job.id, call


async def _wait_done(
    stub: pb_grpc.SchedulerServiceStub, scheduler: pb.Scheduler, job_id: str, wait_s: float
) -> None:
    request = pb.WaitRequest(scheduler=scheduler, job=pb.Job(id=job_id), timeout=int(wait_s * 1000))
    await stub.waitUntilDone(request)


def pingpong(p: Params) -> Result:
    async def scenario(stub: pb_grpc.SchedulerServiceStub) -> Result:
        scheduler, job_id, call = await _interactive(stub, p.python, "-u", "-c", UPPER_CASER)
        times: list[float] = []
        pending = b""
        for i in range(p.pingpong_warmup + p.pingpong_lines):
            start = time.perf_counter()
            await call.write(pb.SubmitInteractiveJobRequest(stdin=ping_line(i)))
            while b"\n" not in pending:
                pending += (await call.read()).stdout
            reply, _, pending = pending.partition(b"\n")
            keep_round_trip(p, times, i, reply, time.perf_counter() - start)
        await call.done_writing()
        while await call.read() is not grpc.aio.EOF:
            pass
        await _wait_done(stub, scheduler, job_id, p.timeout)
        return latency_result(times, "ms")

    return _run(p, scenario)


def stdout_stream(p: Params) -> Result:
    async def scenario(stub: pb_grpc.SchedulerServiceStub) -> Result:
        start = time.perf_counter()
        scheduler, job_id, call = await _interactive(
            stub, "head", "-c", str(p.stream_bytes), "/dev/zero"
        )
        total = 0
        read = call.read
        while (response := await read()) is not grpc.aio.EOF:
            total += len(response.stdout)
        await _wait_done(stub, scheduler, job_id, p.timeout)
        return stream_result(total, p.stream_bytes, time.perf_counter() - start)

    return _run(p, scenario)


def unary_latency(p: Params) -> Result:
    async def scenario(stub: pb_grpc.SchedulerServiceStub) -> Result:
        for _ in range(p.unary_warmup):
            await stub.getAdaptorNames(pb.Empty())
        times: list[float] = []
        for _ in range(p.unary_calls):
            start = time.perf_counter()
            await stub.getAdaptorNames(pb.Empty())
            times.append(time.perf_counter() - start)
        return latency_result(times, "us")

    return _run(p, scenario)


if __name__ == "__main__":
    main("grpcaio", globals(), sys.argv[1:])
