"""Running the embedded server: on a loop of its own (:class:`EmbeddedServer`) or the caller's.

:class:`ServerCore` is the server on one event loop: the gRPC server, its services and the
jobs and copies they start. Stopping it kills the process group of every job it started and
reaps them, and cancels every copy.
:class:`EmbeddedServer` runs a :class:`ServerCore` on an event-loop thread it owns, for use
from ordinary (threaded) code.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from types import TracebackType
from typing import cast

import grpc

from rxxenon._atexit import stop_at_exit
from rxxenon._inprocess import MethodHandlerRegistry
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from rxxenon.server._child_watcher import install_child_watcher
from rxxenon.server._registry import Registry
from rxxenon.server._runtime import JobRuntime
from rxxenon.server._service_filesystem import FileSystemServicer
from rxxenon.server._service_scheduler import SchedulerServicer

__all__ = ["EmbeddedServer", "ServerCore", "format_address"]


def format_address(host: str, port: int) -> str:
    """``host:port``, with an IPv6 host in brackets."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


class ServerCore:
    """The embedded server on the running event loop.

    Args:
        host: address to listen on.
        port: port to listen on; 0 picks a free one (see :attr:`port` once started).
        seconds_per_minute: length of a ``max_runtime`` minute; only tests change it.
    """

    def __init__(self, host: str, port: int, *, seconds_per_minute: float = 60.0) -> None:
        self.host = host
        self.port = port
        self._runtime = JobRuntime(seconds_per_minute)
        self._registry = Registry()
        self._schedulers = SchedulerServicer(self._registry, self._runtime)
        self._filesystems = FileSystemServicer(self._registry)
        self._server: grpc.aio.Server | None = None
        self._stopped = False
        #: The services' method handlers by full method name, for an in-process channel
        #: (:class:`rxxenon._inprocess.InProcessChannel`) on this loop.
        self.method_handlers = MethodHandlerRegistry()
        self._add_services(self.method_handlers)

    def _add_services(self, server: grpc.aio.Server | MethodHandlerRegistry) -> None:
        target = cast(grpc.aio.Server, server)  # the registry has what the generated code uses
        pb_grpc.add_SchedulerServiceServicer_to_server(self._schedulers, target)
        pb_grpc.add_FileSystemServiceServicer_to_server(self._filesystems, target)

    @property
    def address(self) -> str:
        """``host:port`` (the bound port once started)."""
        return format_address(self.host, self.port)

    async def start(self) -> None:
        """Bind and start serving; :attr:`port` is the bound port afterwards."""
        install_child_watcher()
        server = grpc.aio.server()
        self._add_services(server)
        address = format_address(self.host, self.port)
        try:
            self.port = server.add_insecure_port(address)
        except RuntimeError:
            raise OSError(f"cannot listen on {address}") from None
        await server.start()
        self._server = server

    async def stop(self, grace: float | None) -> None:
        """Stop serving, kill every job's process group, reap them, cancel copies. Idempotent.

        Calls in progress get ``grace`` seconds to finish (``None``: none); with their jobs
        killed and copies cancelled, interactive calls and waits end well within it. What a
        cancelled copy wrote stays, as after ``cancel``.
        """
        if self._stopped:
            return
        self._stopped = True
        self._runtime.closing = True  # queued jobs never start from now on
        server, self._server = self._server, None
        stopping = asyncio.ensure_future(server.stop(grace)) if server is not None else None
        await asyncio.gather(self._runtime.shutdown(), self._filesystems.shutdown())
        if stopping is not None:
            await stopping


class EmbeddedServer:
    """The embedded Xenon gRPC server (``local`` jobs, ``file`` files) on its own loop thread.

    Example::

        with EmbeddedServer() as server:
            channel = grpc.insecure_channel(server.address)

    Args:
        host: address to listen on (default loopback only).
        port: port to listen on; 0 (default) picks a free one, see :attr:`port`.
        _seconds_per_minute: private test knob: the length of a ``max_runtime`` minute.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, _seconds_per_minute: float = 60.0
    ) -> None:
        self._host = host
        self._port = port
        self._seconds_per_minute = _seconds_per_minute
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._grace: float | None = 1.0
        self._started = False
        self._stopped = False

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The port the server listens on (the bound one once started)."""
        return self._port

    @property
    def address(self) -> str:
        """``host:port``, for ``grpc.insecure_channel``."""
        return format_address(self._host, self._port)

    def start(self) -> EmbeddedServer:
        """Start the server on its own thread; return once it accepts calls.

        Raises ``OSError`` when it cannot listen, ``RuntimeError`` when started twice.
        """
        with self._lock:
            if self._started:
                raise RuntimeError("EmbeddedServer.start() called twice")
            self._started = True
            ready = threading.Event()
            failure: list[BaseException] = []
            self._thread = threading.Thread(
                target=self._run,
                args=(ready, failure),
                name="rxxenon-embedded-server",
                daemon=False,
            )
            self._thread.start()
            stop_at_exit(self)
            ready.wait()
            if failure:
                self._thread.join()
                self._stopped = True
                raise failure[0]
        return self

    def stop(self, grace: float | None = 1.0) -> None:
        """Stop the server, kill and reap every job it started, end its thread. Idempotent.

        Calls in progress get ``grace`` seconds to finish (``None``: they are cancelled).
        Must not be called from the server's own loop.
        """
        if threading.current_thread() is self._thread:
            raise RuntimeError("EmbeddedServer.stop() called from the server's own loop")
        with self._lock:
            if not self._started or self._stopped:
                return
            self._stopped = True
            assert self._loop is not None
            assert self._stop_requested is not None
            assert self._thread is not None
            self._grace = grace
            self._loop.call_soon_threadsafe(self._stop_requested.set)
            self._thread.join()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready, failure))
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
                # grpc.aio leaves reference cycles behind; collecting them now lets grpc end
                # its poller thread and close its descriptors before stop() returns.
                gc.collect()
                ready.set()  # in case serving failed before it said so

    async def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        self._stop_requested = asyncio.Event()
        core = ServerCore(self._host, self._port, seconds_per_minute=self._seconds_per_minute)
        try:
            await core.start()
        except BaseException as error:
            failure.append(error)
            await core.stop(None)
            ready.set()
            return
        self._port = core.port
        ready.set()
        try:
            await self._stop_requested.wait()
        finally:
            await core.stop(self._grace)
