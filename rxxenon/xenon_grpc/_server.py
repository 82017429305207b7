"""``XenonGrpcServer``: start the real xenon-grpc Java server, know it is up, stop it.

How the port is chosen without a race. xenon-grpc 3.0.1 accepts ``--port 0`` (the kernel then
picks a free port atomically at bind time) but does not report the port: its ``listening on
port N`` line is printed before binding and says ``0``. So:

* On Linux (``/proc``), the server is started with ``--port 0`` and the port is read from
  the kernel: the LISTEN socket among the JVM's own open files. No other process can be given
  that port, and nothing is probed before the JVM owns it.
* Elsewhere, a port that is free a moment before is passed; if the JVM then fails to bind it
  (it prints ``Failed to bind`` and exits), another port is tried, up to five times. One race
  remains there: another server taking the port in the gap could answer the readiness call
  before the JVM fails; with TLS its handshake fails against rxxenon's fresh certificate.

Either way the server counts as started only once it answers a gRPC call
(``SchedulerService.getAdaptorNames``) on ``127.0.0.1``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from rxxenon.xenon_grpc import _process
from rxxenon.xenon_grpc._errors import XenonGrpcStartError
from rxxenon.xenon_grpc._locate import find_jar, find_java
from rxxenon.xenon_grpc._process import JavaServerProcess
from rxxenon.xenon_grpc._tls import (
    TLS_CHANNEL_OPTIONS,
    Certificates,
    ensure_certificates,
    generate_certificates,
)

__all__ = ["XenonGrpcServer"]

logger = logging.getLogger("rxxenon.xenon_grpc")

#: The address clients of a started server dial: the JVM listens on every interface.
HOST = "127.0.0.1"

#: Attempts at a free port where the port cannot be read from the kernel.
PORT_ATTEMPTS = 5

#: Options of the channel that waits for the server to answer: reconnect quickly while the
#: JVM comes up, and keep its subchannels out of the process-wide pool.
_PROBE_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 250),
    ("grpc.use_local_subchannel_pool", 1),
)

#: How long one readiness call may wait for a connection before it is tried again.
_PROBE_CALL_TIMEOUT = 0.5

#: How long one listening port is probed before the others get their turn.
_PROBE_WINDOW = 2.0


class _PortTaken(Exception):
    """The JVM exited because its port was taken."""


class _Running:
    """What a started server owns: its process and its private certificate directory."""

    def __init__(self, process: JavaServerProcess, private_dir: Path | None) -> None:
        self.process = process
        self.private_dir = private_dir

    def close(self, grace: float = 5.0) -> None:
        try:
            self.process.stop(grace)
        finally:
            if self.private_dir is not None:
                shutil.rmtree(self.private_dir, ignore_errors=True)


class XenonGrpcServer:
    """The xenon-grpc Java server (ssh, slurm, gridengine, torque, at, local) as a child process.

    Example::

        with XenonGrpcServer(tls=True) as server:
            with rxxenon.connect(
                server.address,
                channel_credentials=server.channel_credentials(),
                options=server.channel_options(),
            ) as xenon:
                print(xenon.get_scheduler_adaptor_names())

    The jar and Java are found when the object is made (:func:`find_jar`,
    :func:`find_java`); the server runs from :meth:`start` to :meth:`stop`. Its stdout and
    stderr lines go to the logger ``rxxenon.xenon_grpc``. If nobody stops it, it is stopped
    when the object is garbage-collected or the interpreter exits.

    The server listens on **all network interfaces** (xenon-grpc has no option to choose);
    without ``tls`` anyone who can reach the port can run jobs as this user, so a warning is
    logged. With ``tls=True`` it requires a client certificate (mutual TLS).

    Args:
        jar: the xenon-grpc jar, or a directory with one; None searches (see :func:`find_jar`).
        java: the ``java`` executable or command; None searches (see :func:`find_java`).
        port: the port to listen on; 0 (default) lets the kernel pick a free one.
        tls: require mutual TLS, with a freshly made self-signed certificate and key.
        certificates_dir: with ``tls``, keep the certificate and key in this directory
            (``xenon-grpc.crt``, ``xenon-grpc.key``; reused while valid) so that other
            clients can use them; None puts them in a private temporary directory removed
            at :meth:`stop`.
        verbosity: how many ``-v`` to pass (0: the server logs errors only; 1: warnings;
            2: info; 3: debug; 4: trace).
        ready_timeout: seconds :meth:`start` waits for the server to answer.

    Raises:
        XenonGrpcNotFoundError: no jar.
        JavaNotFoundError: no Java.
        ValueError: a bad argument.
    """

    def __init__(
        self,
        jar: str | os.PathLike[str] | None = None,
        java: str | os.PathLike[str] | None = None,
        *,
        port: int = 0,
        tls: bool = False,
        certificates_dir: str | os.PathLike[str] | None = None,
        verbosity: int = 0,
        ready_timeout: float = 60.0,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {port}")
        if verbosity < 0:
            raise ValueError(f"verbosity must be 0 or more, not {verbosity}")
        if certificates_dir is not None and not tls:
            raise ValueError("certificates_dir is for TLS: pass tls=True as well")
        if ready_timeout <= 0:
            raise ValueError(f"ready_timeout must be positive, not {ready_timeout}")
        self.jar = find_jar(jar)
        self.java = find_java(java)
        self.tls = tls
        self.verbosity = verbosity
        self.ready_timeout = ready_timeout
        self._certificates_dir = None if certificates_dir is None else Path(certificates_dir)
        #: The certificate and key in use once started with TLS.
        self.certificates: Certificates | None = None
        self._credentials: tuple[bytes, bytes] | None = None
        self._requested_port = port
        self._port = port
        self._lock = threading.Lock()
        self._started = False
        self._running: _Running | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._last_probe_error: str | None = None

    # --- what clients need -------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on (the kernel's pick, once started with port 0)."""
        return self._port

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the address to connect to (valid once started)."""
        return f"{HOST}:{self._port}"

    @property
    def pid(self) -> int | None:
        """The JVM's process id while started, else None."""
        return None if self._running is None else self._running.process.pid

    @property
    def running(self) -> bool:
        """Whether the server was started, is not stopped, and its process has not exited."""
        running = self._running
        return running is not None and not running.process.exited()

    def channel_credentials(self) -> grpc.ChannelCredentials | None:
        """Credentials for a client of this server: None without TLS; with TLS, the
        certificate as trust root and as client certificate, and its key (valid once
        started)."""
        if not self.tls:
            return None
        if self._credentials is None:
            raise RuntimeError("the TLS certificate exists once the server is started")
        chain, key = self._credentials
        return grpc.ssl_channel_credentials(
            root_certificates=chain, private_key=key, certificate_chain=chain
        )

    def channel_options(self) -> tuple[tuple[str, Any], ...]:
        """gRPC channel options for a client: with TLS, check the certificate against the
        name ``localhost`` it was made for, whatever address is dialled."""
        return TLS_CHANNEL_OPTIONS if self.tls else ()

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> XenonGrpcServer:
        """Start the JVM; return once the server answers a gRPC call.

        Raises:
            XenonGrpcStartError: the process exited (the port given is in use, the jar is
                not a xenon-grpc jar, ...) or did not answer within ``ready_timeout``; the
                message quotes its last output. The process is gone by then.
            RuntimeError: started twice.
            ModuleNotFoundError: TLS asked for and ``cryptography`` not installed.
        """
        with self._lock:
            if self._started:
                raise RuntimeError("XenonGrpcServer.start() called twice")
            self._started = True
            deadline = time.monotonic() + self.ready_timeout
            private_dir: Path | None = None
            try:
                if self.tls:
                    if self._certificates_dir is None:
                        private_dir = Path(tempfile.mkdtemp(prefix="rxxenon-xenon-grpc-"))
                        self.certificates = generate_certificates(private_dir)
                    else:
                        self.certificates = ensure_certificates(self._certificates_dir)
                    self._credentials = (
                        self.certificates.certificate.read_bytes(),
                        self.certificates.private_key.read_bytes(),
                    )
                process, port = self._launch(deadline)
            except BaseException:
                if private_dir is not None:
                    shutil.rmtree(private_dir, ignore_errors=True)
                raise
            self._port = port
            self._running = _Running(process, private_dir)
            self._finalizer = weakref.finalize(self, self._running.close)
        logger.info(
            "xenon-grpc[%d] answers on %s%s (%s)",
            process.pid,
            self.address,
            " with mutual TLS" if self.tls else "",
            self.jar.name,
        )
        if not self.tls:
            logger.warning(
                "xenon-grpc[%d] listens on port %d of every network interface without TLS: "
                "whoever reaches it can run jobs as this user; use tls=True unless the "
                "network is trusted",
                process.pid,
                port,
            )
        return self

    def stop(self, grace: float = 5.0) -> None:
        """Stop the server and the local jobs it started; reap it; end its log threads.

        SIGTERM to the server's process group, SIGKILL after ``grace`` seconds, then SIGKILL
        to what is left of the group (xenon-grpc leaves its local jobs running when it exits).
        Removes the private certificate directory. Idempotent; a no-op before start.
        """
        with self._lock:
            running, finalizer = self._running, self._finalizer
            self._running = self._finalizer = None
        if finalizer is not None:
            finalizer.detach()
        if running is not None:
            running.close(grace)
            logger.info(
                "xenon-grpc[%d] stopped (exit status %s)",
                running.process.pid,
                running.process.returncode,
            )

    def __enter__(self) -> XenonGrpcServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        if self._running is None:
            state = "stopped" if self._started else "not started"
        else:
            state = f"{self.address}{' TLS' if self.tls else ''}, pid {self._running.process.pid}"
        return f"<XenonGrpcServer {state}>"

    # --- starting ------------------------------------------------------------------------

    def _argv(self, port: int) -> list[str]:
        argv = [str(self.java), "-jar", str(self.jar), "--port", str(port)]
        argv += ["-v"] * self.verbosity
        if self.certificates is not None:
            argv += self.certificates.server_arguments()
        return argv

    def _launch(self, deadline: float) -> tuple[JavaServerProcess, int]:
        """Start the JVM and wait until it answers; the process and its port."""
        if _process.port_discovery_supported():
            wanted = self._requested_port or None
            process = JavaServerProcess(self._argv(self._requested_port))
            with _stopped_on_error(process):
                return process, self._await_listening(process, wanted, deadline)
        if self._requested_port:
            process = JavaServerProcess(self._argv(self._requested_port))
            with _stopped_on_error(process):
                self._await_answer(process, self._requested_port, deadline)
                return process, self._requested_port
        for attempt in range(1, PORT_ATTEMPTS + 1):
            port = _process.pick_free_port()
            process = JavaServerProcess(self._argv(port))
            try:
                with _stopped_on_error(process):
                    self._await_answer(process, port, deadline)
                    return process, port
            except _PortTaken:
                logger.info(
                    "port %d was taken before xenon-grpc could bind it (attempt %d of %d)",
                    port,
                    attempt,
                    PORT_ATTEMPTS,
                )
        raise XenonGrpcStartError(
            f"xenon-grpc found no free port in {PORT_ATTEMPTS} attempts: each was taken "
            "before it could bind it"
        )

    def _await_listening(
        self, process: JavaServerProcess, wanted: int | None, deadline: float
    ) -> int:
        """Wait until the JVM listens (on ``wanted``, or any port) and answers there.

        Each port it listens on gets a short window per round, so that another listener of
        the JVM (a JMX agent, say) cannot use up the whole wait.
        """
        while True:
            ports = _process.listening_ports(process.pid)
            if ports is None:
                raise XenonGrpcStartError(
                    f"cannot read the ports of process {process.pid} from /proc"
                )
            candidates = sorted(ports) if wanted is None else sorted(ports & {wanted})
            for port in candidates:
                window = min(deadline, time.monotonic() + _PROBE_WINDOW)
                if self._answers(process, port, window):
                    return port
            if process.exited():
                raise self._exit_error(process)
            if time.monotonic() >= deadline:
                raise self._timeout_error(process)
            if not candidates:
                time.sleep(_process.POLL_INTERVAL)

    def _await_answer(self, process: JavaServerProcess, port: int, deadline: float) -> None:
        """Wait until the server answers on ``port``, which it may not have bound yet."""
        if self._answers(process, port, deadline):
            return
        if process.exited():
            raise self._exit_error(process)
        raise self._timeout_error(process)

    def _answers(self, process: JavaServerProcess, port: int, deadline: float) -> bool:
        """Whether a ``getAdaptorNames`` call on ``port`` succeeds before ``deadline`` (or
        the process exits). Every failure counts as "not yet"; the last one is kept for the
        timeout message."""
        target = f"{HOST}:{port}"
        options = (*self.channel_options(), *_PROBE_OPTIONS)
        credentials = self.channel_credentials()
        if credentials is None:
            channel = grpc.insecure_channel(target, options=options)
        else:
            channel = grpc.secure_channel(target, credentials, options=options)
        with channel:
            stub = pb_grpc.SchedulerServiceStub(channel)
            while not process.exited():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                try:
                    stub.getAdaptorNames(
                        pb.Empty(), timeout=min(remaining, _PROBE_CALL_TIMEOUT), wait_for_ready=True
                    )
                    return True
                except grpc.RpcError as error:
                    if isinstance(error, grpc.Call):
                        self._last_probe_error = f"{target}: {error.code().name} {error.details()}"
        return False

    def _exit_error(self, process: JavaServerProcess) -> Exception:
        """The error for a JVM that exited while starting (reaped here)."""
        status = process.stop(grace=0)
        output = process.tail()
        if any("Failed to bind" in line or "BindException" in line for line in output):
            if not self._requested_port:
                return _PortTaken()
            return XenonGrpcStartError(
                f"xenon-grpc could not listen on port {self._requested_port}: it is in use"
                + _quote(output)
            )
        return XenonGrpcStartError(
            f"xenon-grpc exited with status {status} while starting: "
            f"{' '.join(process.argv)}" + _quote(output)
        )

    def _timeout_error(self, process: JavaServerProcess) -> XenonGrpcStartError:
        process.stop(grace=1.0)
        last = f" (last try: {self._last_probe_error})" if self._last_probe_error else ""
        return XenonGrpcStartError(
            f"xenon-grpc[{process.pid}] did not answer a gRPC call within "
            f"{self.ready_timeout} s{last}; it was stopped" + _quote(process.tail())
        )


@contextlib.contextmanager
def _stopped_on_error(process: JavaServerProcess) -> Any:
    """Stop ``process`` when the block raises (including KeyboardInterrupt)."""
    try:
        yield
    except BaseException:
        process.stop(grace=1.0)
        raise


def _quote(lines: list[str], limit: int = 20) -> str:
    if not lines:
        return " (it printed nothing)"
    shown = lines[-limit:]
    return "; its last output:\n" + "\n".join(f"    {line}" for line in shown)
