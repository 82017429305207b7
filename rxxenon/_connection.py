"""Connections to a Xenon gRPC server: ``rxxenon.connect()``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

import grpc
import grpc.aio

from rxxenon._adaptors import FileSystemAdaptorDescription, SchedulerAdaptorDescription
from rxxenon._atexit import stop_at_exit
from rxxenon._credentials import Credential, credential_fields
from rxxenon._direct import DirectCalls
from rxxenon._embedded import InProcessServer, start_in_process
from rxxenon._errors import UnavailableError, error_from_rpc_error
from rxxenon._filesystems import FileSystem
from rxxenon._inprocess import InProcessChannel
from rxxenon._loop import LoopThread
from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from rxxenon._rx_grpc import DeliveryPool, RxGrpc
from rxxenon._schedulers import Scheduler

if TYPE_CHECKING:
    from rxxenon.xenon_grpc import XenonGrpcServer

__all__ = ["Connection", "connect"]

#: Channel options. The Java server sends a whole file as one message, so the client takes
#: messages of any size; it sends at most what both servers accept (4 MiB).
MAX_SEND_MESSAGE_LENGTH = 4 * 1024 * 1024
CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", MAX_SEND_MESSAGE_LENGTH),
)


class ManagedServer(Protocol):
    """A server a connection started and stops when it closes (embedded or xenon-grpc)."""

    @property
    def address(self) -> str: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class _Stubs:
    scheduler: pb_grpc.SchedulerServiceAsyncStub
    filesystem: pb_grpc.FileSystemServiceAsyncStub

    @staticmethod
    def on(channel: grpc.aio.Channel | InProcessChannel) -> _Stubs:
        aio_channel = cast(grpc.aio.Channel, channel)  # in-process: the same surface
        return _Stubs(
            pb_grpc.SchedulerServiceStub(aio_channel), pb_grpc.FileSystemServiceStub(aio_channel)
        )


class Connection:
    """A connection to one Xenon gRPC server: the entry point of the API.

    Made by :func:`connect`. Its streaming calls and Observables run on one event-loop thread
    it owns; a blocking single-value call over TCP runs on the thread that makes it (over a
    synchronous channel, :class:`~rxxenon._direct.DirectCalls`). Observers are called one
    notification at a time per call and in order: by the loop's own thread, just before
    the loop waits for I/O, while they return quickly. When one blocks or runs long, a
    stand-in thread runs the loop until it returns; once it blocked, or was slow
    repeatedly, its call's observers run on a small pool of delivery threads
    (``delivery_threads``); see :meth:`LoopThread.relay`. With ``delivery_threads=0`` there
    is no pool: observers are called inside the loop, but then they must not block (blocking
    rxxenon calls there raise ``LoopThreadError``, a stdin push that finds the buffer full
    raises ``StdinBufferFullError``, and a slow observer stalls every call of the
    connection); move work elsewhere with ``observe_on``. The embedded server that
    :func:`connect` starts without an address runs on that loop too, and the connection
    calls it in process, without a gRPC transport in between. A context manager: leaving the
    block closes it (and stops the embedded server if it started one).

    Attributes:
        target: the server's address, ``host:port``.
        server: the server this connection started (embedded or xenon-grpc), or None.
    """

    def __init__(
        self,
        target: str | None,
        *,
        channel_credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
        delivery_threads: int = 16,
        ready_timeout: float | None = 10.0,
        server: ManagedServer | None = None,
    ) -> None:
        self.target = target or "in-process"
        self.server = server
        self.loop = LoopThread(name=f"rxxenon-loop {self.target}", stand_in=delivery_threads > 0)
        if delivery_threads < 0:
            self.loop.close()
            raise ValueError(f"delivery_threads must be 0 or more, not {delivery_threads}")
        # No pool at all with delivery_threads=0: observers run on the loop thread.
        self._executor = (
            DeliveryPool(delivery_threads, "rxxenon-delivery") if delivery_threads else None
        )
        self.rx = RxGrpc(self.loop, self._executor, _map_rpc_error)
        self._closed = False
        self._channel: grpc.aio.Channel | InProcessChannel
        #: Blocking unary calls over TCP, on the caller's thread (in process: on the loop).
        self._direct: DirectCalls | None = None
        try:
            if target is None:
                self._channel, self.stubs = self._start_in_process()
            else:
                all_options = (*CHANNEL_OPTIONS, *options)
                self._channel, self.stubs = self.loop.run(
                    self._open(target, channel_credentials, all_options, ready_timeout)
                )
                self._direct = DirectCalls(
                    target, channel_credentials, all_options, error_from_rpc_error
                )
        except BaseException:
            self._stop_in_process()
            self._shutdown()
            raise

    def _start_in_process(self) -> tuple[InProcessChannel, _Stubs]:
        """Start the embedded server on this connection's loop and a channel to it."""
        channel, core = self.loop.run(start_in_process(MAX_SEND_MESSAGE_LENGTH))
        self.server = InProcessServer(core, self.loop)
        self.target = core.address
        stop_at_exit(self, "close")  # kill its jobs rather than orphan them
        return channel, _Stubs.on(channel)

    def _stop_in_process(self) -> None:
        """Stop the in-process server while the loop it runs on still runs."""
        if isinstance(self.server, InProcessServer):
            self.server.stop()

    @staticmethod
    async def _open(
        target: str,
        credentials: grpc.ChannelCredentials | None,
        options: Sequence[tuple[str, Any]],
        ready_timeout: float | None,
    ) -> tuple[grpc.aio.Channel, _Stubs]:
        if credentials is None:
            channel = grpc.aio.insecure_channel(target, options=options)
        else:
            channel = grpc.aio.secure_channel(target, credentials, options=options)
        try:
            await asyncio.wait_for(channel.channel_ready(), ready_timeout)
        except TimeoutError:
            await channel.close(None)
            raise UnavailableError(
                f"no Xenon gRPC server answered at {target} within {ready_timeout} s"
            ) from None
        return channel, _Stubs.on(channel)

    def __repr__(self) -> str:
        kind = "server" if self.server is None else type(self.server).__name__
        return f"<Connection to {kind} at {self.target}{' (closed)' if self._closed else ''}>"

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel (cancelling running calls), stop the threads, and stop the
        server if this connection started it. Idempotent."""
        if self._closed:
            return
        self.loop.check_may_block("Connection.close()")  # refused: the connection stays open
        self._closed = True
        try:
            if self._direct is not None:
                self._direct.close()
            self.loop.run(self._channel.close(None), timeout=10)
            self._stop_in_process()
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self.loop.close()
        # Deliveries still queued (the calls' final notifications) run; a close made from a
        # delivery thread does not wait for that thread itself.
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if self.server is not None:
            self.server.stop()

    def call(self, service: str, method: str, request: Any) -> Any:
        """Make a unary call and wait for its response; from any thread but the loop's.

        ``service`` is ``"scheduler"`` or ``"filesystem"``, ``method`` the proto's name of
        the method. Over TCP the call runs on the caller's thread (:class:`DirectCalls`); in
        process it runs on the loop, next to the server.

        Raises:
            LoopThreadError: inside the loop.
            XenonError: the translated status of a failed call.
            CancelledError: the connection closed before or during the call.
        """
        if self._direct is None:
            stub = getattr(self.stubs, service)
            return self.rx.call(lambda: getattr(stub, method), request)
        self.loop.check_may_block("A blocking unary call")
        return self._direct.call(service, method, request)

    def _call(self, method: str, request: Any) -> Any:
        return self.call("scheduler", method, request)

    def _fs_call(self, method: str, request: Any) -> Any:
        return self.call("filesystem", method, request)

    # --- SchedulerService calls that need no scheduler --------------------------------------

    def get_scheduler_adaptor_names(self) -> list[str]:
        """Names of the server's scheduler adaptors (``["local"]`` on the embedded server)."""
        return list(self._call("getAdaptorNames", pb.Empty()).name)

    def get_scheduler_adaptor_descriptions(self) -> list[SchedulerAdaptorDescription]:
        """Descriptions of the server's scheduler adaptors, in the server's order."""
        response = self._call("getAdaptorDescriptions", pb.Empty())
        return [SchedulerAdaptorDescription.from_proto(d) for d in response.descriptions]

    def get_scheduler_adaptor_description(self, name: str) -> SchedulerAdaptorDescription:
        """One scheduler adaptor's description. Raises UnknownAdaptorError."""
        response = self._call("getAdaptorDescription", pb.AdaptorName(name=name))
        return SchedulerAdaptorDescription.from_proto(response)

    def create_scheduler(
        self,
        adaptor: str,
        location: str = "",
        properties: Mapping[str, str] | None = None,
        credential: Credential | None = None,
    ) -> Scheduler:
        """Open a scheduler; use it as a context manager to close it again.

        Args:
            adaptor: ``local``, ``ssh``, ``slurm``, ... (see get_scheduler_adaptor_names).
            location: where, in the adaptor's format (``""`` for local, ``host:port``...).
            properties: adaptor properties (see the adaptor description).
            credential: how to log in; None means the adaptor's default.

        Raises:
            UnknownAdaptorError, InvalidLocationError, UnknownPropertyError,
            InvalidPropertyError, InvalidCredentialError: refused by the server.
        """
        request = pb.CreateSchedulerRequest(
            adaptor=adaptor,
            location=location,
            properties=dict(properties or {}),
            **credential_fields(credential),
        )
        return Scheduler(self, self._call("create", request).id)

    def local_scheduler(self) -> Scheduler:
        """Open a new ``local`` scheduler with default settings."""
        return Scheduler(self, self._call("localScheduler", pb.Empty()).id)

    def list_schedulers(self) -> list[Scheduler]:
        """Every scheduler open on the server (from any client)."""
        return [Scheduler(self, s.id) for s in self._call("listSchedulers", pb.Empty()).schedulers]

    # --- FileSystemService calls that need no file system ------------------------------------

    def get_file_system_adaptor_names(self) -> list[str]:
        """Names of the server's file-system adaptors (``["file"]`` on the embedded server)."""
        return list(self._fs_call("getAdaptorNames", pb.Empty()).name)

    def get_file_system_adaptor_descriptions(self) -> list[FileSystemAdaptorDescription]:
        """Descriptions of the server's file-system adaptors, in the server's order."""
        response = self._fs_call("getAdaptorDescriptions", pb.Empty())
        return [FileSystemAdaptorDescription.from_proto(d) for d in response.descriptions]

    def get_file_system_adaptor_description(self, name: str) -> FileSystemAdaptorDescription:
        """One file-system adaptor's description. Raises UnknownAdaptorError."""
        response = self._fs_call("getAdaptorDescription", pb.AdaptorName(name=name))
        return FileSystemAdaptorDescription.from_proto(response)

    def create_file_system(
        self,
        adaptor: str = "file",
        location: str = "",
        properties: Mapping[str, str] | None = None,
        credential: Credential | None = None,
    ) -> FileSystem:
        """Open a file system; use it as a context manager to close it again.

        Args:
            adaptor: ``file`` (local), ``sftp``, ``ftp``, ``webdav``, ``s3``...
            location: where, in the adaptor's format (``""`` or an absolute directory for
                ``file``: the working directory; ``host:port`` for ``sftp``...).
            properties: adaptor properties (see the adaptor description).
            credential: how to log in; None means the adaptor's default.

        Raises:
            UnknownAdaptorError, InvalidLocationError, UnknownPropertyError,
            InvalidPropertyError, InvalidCredentialError: refused by the server.
        """
        request = pb.CreateFileSystemRequest(
            adaptor=adaptor,
            location=location,
            properties=dict(properties or {}),
            **credential_fields(credential),
        )
        return FileSystem(self, self._fs_call("create", request).id)

    def local_file_systems(self) -> list[FileSystem]:
        """A new file system for each local root (``/`` on POSIX)."""
        response = self._fs_call("localFileSystems", pb.Empty())
        return [FileSystem(self, fs.id) for fs in response.filesystems]

    def list_file_systems(self) -> list[FileSystem]:
        """Every file system open on the server (from any client)."""
        response = self._fs_call("listFileSystems", pb.Empty())
        return [FileSystem(self, fs.id) for fs in response.filesystems]


def _map_rpc_error(error: Exception) -> Exception:
    return error_from_rpc_error(error) if isinstance(error, grpc.RpcError) else error


def connect(
    address: str | None = None,
    *,
    xenon_grpc: bool | XenonGrpcServer = False,
    channel_credentials: grpc.ChannelCredentials | None = None,
    options: Sequence[tuple[str, Any]] = (),
    delivery_threads: int = 16,
    ready_timeout: float | None = 10.0,
) -> Connection:
    """Connect to a Xenon gRPC server.

    Args:
        address: ``host:port`` of a running server (rxxenon's own, or xenon-grpc). With
            neither ``address`` nor ``xenon_grpc``, rxxenon's embedded server is started in
            this process, on the connection's event loop, and called in process (no gRPC
            transport in between); it also listens on a private loopback port
            (``connection.server.address``) for other clients, and stops, killing its
            jobs, when the connection closes (or the interpreter exits).
        xenon_grpc: start the real xenon-grpc server (Java) and connect to it; it stops when
            the connection closes. True starts ``XenonGrpcServer(tls=True)`` (mutual TLS:
            xenon-grpc listens on every network interface); or pass a configured
            :class:`~rxxenon.xenon_grpc.XenonGrpcServer` (started if it is not running).
        channel_credentials: TLS credentials for ``address`` (see
            :func:`rxxenon.xenon_grpc.client_credentials`); None for plaintext.
        options: extra gRPC channel options.
        delivery_threads: threads that call slow or blocking observers (each holds one);
            quick observers are called by the event loop's own thread just before the
            loop waits for I/O. 0 calls every observer inside the loop instead: observers must
            not block there (blocking calls raise ``LoopThreadError``).
        ready_timeout: seconds to wait for the server to answer (None: no limit).

    Raises:
        UnavailableError: no server answered in time.
        XenonGrpcNotFoundError, JavaNotFoundError, XenonGrpcStartError: ``xenon_grpc`` could
            not be started (each names what to install).
    """
    settings: dict[str, Any] = {
        "options": options,
        "delivery_threads": delivery_threads,
        "ready_timeout": ready_timeout,
    }
    if address is not None:
        if xenon_grpc is not False:
            raise ValueError("give an address or xenon_grpc, not both")
        return Connection(address, channel_credentials=channel_credentials, **settings)
    if xenon_grpc is False:
        return Connection(None, **settings)
    from rxxenon.xenon_grpc import XenonGrpcServer

    java = XenonGrpcServer(tls=True) if xenon_grpc is True else xenon_grpc
    if not java.running:
        java.start()
    settings["options"] = (*java.channel_options(), *options)
    try:
        return Connection(
            java.address, channel_credentials=java.channel_credentials(), server=java, **settings
        )
    except BaseException:
        java.stop()
        raise
