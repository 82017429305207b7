"""``rxxenon serve``: the embedded server in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

from rxxenon.server._malloc import keep_stream_buffers
from rxxenon.server._server import ServerCore, format_address

__all__ = ["run_standalone"]

#: Seconds calls in progress get to finish when the server is told to stop.
_GRACE = 1.0


def run_standalone(host: str, port: int) -> int:
    """Serve on ``host:port`` in this thread until SIGINT or SIGTERM; return the exit status.

    Prints exactly one line, ``listening on HOST:PORT`` (the bound port), once the server
    accepts calls. On SIGINT or SIGTERM it stops, killing the process group of every job it
    started, and returns 0. If it cannot listen it says why on stderr and returns 1. Must run
    in the main thread (it installs signal handlers). On glibc it first fixes the allocator's
    thresholds for streaming (see :mod:`rxxenon.server._malloc`).
    """
    keep_stream_buffers()
    try:
        return asyncio.run(_serve(host, port))
    except OSError as error:
        print(f"rxxenon serve: {error}", file=sys.stderr, flush=True)
        return 1


async def _serve(host: str, port: int) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    core = ServerCore(host, port)
    try:
        await core.start()
        print(f"listening on {format_address(host, core.port)}", flush=True)
        await stop.wait()
    finally:
        await core.stop(_GRACE)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    sys.stdout.flush()
    return 0
