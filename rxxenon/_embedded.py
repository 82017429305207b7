"""The embedded server of ``rxxenon.connect()``: on the connection's own loop, called in process.

``rxxenon.connect()`` with no address starts the embedded server's core on the event loop
of the connection it makes, and the connection calls it through an
:class:`~rxxenon._inprocess.InProcessChannel`: no gRPC transport, no thread hop between
client and server. The server still listens on a private loopback port, so that other
clients (another connection, PyXenon, ``grpcurl``) can reach the same jobs and files.
"""

from __future__ import annotations

import gc
import threading

from rxxenon._inprocess import InProcessChannel
from rxxenon._loop import LoopThread
from rxxenon.server._server import ServerCore

__all__ = ["InProcessServer", "start_in_process"]

#: How long calls in progress get to end when the server stops.
STOP_GRACE = 1.0


class InProcessServer:
    """The embedded server running on a connection's event loop, in this process.

    Attributes:
        address: ``host:port`` of its loopback port, for other clients.
    """

    def __init__(self, core: ServerCore, loop: LoopThread) -> None:
        self._core = core
        self._loop = loop
        self._lock = threading.Lock()
        self._stopped = False
        self.address = core.address

    def __repr__(self) -> str:
        return f"<InProcessServer at {self.address}{' (stopped)' if self._stopped else ''}>"

    def stop(self) -> None:
        """Stop serving and kill (and reap) every job it started. Idempotent; not from the
        connection's loop thread."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            self._loop.run(self._core.stop(STOP_GRACE), timeout=30, what="Stopping the server")
        finally:
            # grpc.aio leaves reference cycles behind; collecting them lets gRPC end its
            # threads and close its descriptors now rather than at some later collection.
            gc.collect()


async def start_in_process(
    max_send_message_length: int,
) -> tuple[InProcessChannel, ServerCore]:
    """Start the embedded server's core on the running loop; return a channel to it."""
    core = ServerCore("127.0.0.1", 0)
    try:
        await core.start()
    except BaseException:
        await core.stop(None)
        raise
    channel = InProcessChannel(
        core.method_handlers.handlers, max_send_message_length=max_send_message_length
    )
    return channel, core
