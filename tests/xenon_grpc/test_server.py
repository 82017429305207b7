"""XenonGrpcServer with plaintext: readiness, ports, logs, and a clean stop."""

from __future__ import annotations

import gc
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import rxxenon
from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from rxxenon.xenon_grpc import XenonGrpcServer, XenonGrpcStartError, _process
from tests.helpers import wait_for

from ._procs import alive, children, group_members, open_fds
from .conftest import SIX_ADAPTORS

pytestmark = pytest.mark.usefixtures("java_and_jar")

ROOT = Path(__file__).resolve().parents[2]


def adaptor_names(server: XenonGrpcServer, *, wait: bool = False) -> list[str]:
    """One raw call, without waiting for the connection unless asked."""
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.SchedulerServiceStub(channel)
        return list(stub.getAdaptorNames(pb.Empty(), timeout=5, wait_for_ready=wait).name)


def thread_names() -> set[str]:
    return {thread.name for thread in threading.enumerate()}


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.create_server(("127.0.0.1", 0)) as holder:
        yield holder.getsockname()[1]


# --- without starting Java ---------------------------------------------------------------


def test_bad_arguments_are_refused_before_anything_runs() -> None:
    with pytest.raises(ValueError, match="port"):
        XenonGrpcServer(port=70000)
    with pytest.raises(ValueError, match="verbosity"):
        XenonGrpcServer(verbosity=-1)
    with pytest.raises(ValueError, match="tls=True"):
        XenonGrpcServer(certificates_dir="somewhere")
    with pytest.raises(ValueError, match="ready_timeout"):
        XenonGrpcServer(ready_timeout=0)


def test_stop_before_start_does_nothing() -> None:
    server = XenonGrpcServer()
    server.stop()
    assert server.pid is None
    assert not server.running
    assert repr(server) == "<XenonGrpcServer not started>"
    assert server.channel_credentials() is None
    assert server.channel_options() == ()


def test_not_a_jar_fails_to_start_with_its_output(tmp_path: Path) -> None:
    jar = tmp_path / "xenon-grpc-9.9.9.jar"
    jar.write_text("not a jar")
    before = children()
    with pytest.raises(XenonGrpcStartError, match=r"(?s)exited with status 1 .*corrupt jarfile"):
        XenonGrpcServer(jar).start()
    assert children() == before


# --- a running server --------------------------------------------------------------------


def test_answers_as_soon_as_start_returns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="rxxenon.xenon_grpc")
    server = XenonGrpcServer(verbosity=2)
    try:
        assert server.start() is server
        pid = server.pid
        assert server.running
        # No waiting for a connection: the server is up when start() returns.
        assert adaptor_names(server) == SIX_ADAPTORS
        assert server.address == f"127.0.0.1:{server.port}"
        assert server.port > 0
        assert repr(server) == f"<XenonGrpcServer {server.address}, pid {server.pid}>"
        with pytest.raises(RuntimeError, match="twice"):
            server.start()
    finally:
        server.stop()

    def logged(text: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if text in r.getMessage()]

    # The JVM's stdout, through a reader thread: the "listening" line it logs at ERROR is
    # not an error.
    assert wait_for(lambda: bool(logged("Server started, listening on port")))
    started = logged("Server started, listening on port")[0]
    assert started.name == "rxxenon.xenon_grpc"
    assert started.levelno == logging.INFO
    assert started.threadName == f"rxxenon-xenon-grpc-{pid}-stdout"
    assert f"xenon-grpc[{pid}]" in started.getMessage()
    # Its stderr: the shutdown hook's lines.
    assert logged("*** shutting down gRPC server")
    # rxxenon's own lines: where it answers, and that plaintext is open to the network.
    assert logged(f"answers on {server.address}")[0].levelno == logging.INFO
    assert logged("without TLS")[0].levelno == logging.WARNING
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_stop_leaves_no_process_thread_fd_or_local_job(plain_server: XenonGrpcServer) -> None:
    threads_before, fds_before, children_before = thread_names(), open_fds(), children()
    with XenonGrpcServer() as server:
        pid = server.pid
        assert pid is not None
        assert pid in children()
        # A local job of the server: xenon-grpc itself would leave it running.
        with grpc.insecure_channel(server.address) as channel:
            stub = pb_grpc.SchedulerServiceStub(channel)
            scheduler = stub.localScheduler(pb.Empty())
            description = pb.JobDescription(
                executable="sleep", arguments=["600"], queue_name="multi"
            )
            job = stub.submitBatchJob(
                pb.SubmitBatchJobRequest(scheduler=scheduler, description=description)
            )
            stub.waitUntilRunning(pb.WaitRequest(scheduler=scheduler, job=job, timeout=20000))
        jobs = group_members(pid) - {pid}
        assert jobs, "the job runs in the server's process group"
        assert any(alive(job_pid) for job_pid in jobs)
    assert repr(server) == "<XenonGrpcServer stopped>"
    assert not server.running
    assert server.pid is None
    assert not alive(pid)
    assert not any(alive(job_pid) for job_pid in jobs)
    assert not group_members(pid)
    assert children() == children_before
    assert not any(name.startswith(f"rxxenon-xenon-grpc-{pid}") for name in thread_names())
    assert wait_for(lambda: thread_names() <= threads_before)
    assert wait_for(lambda: open_fds() <= fds_before)
    server.stop()  # again: nothing happens


def test_connect_to_a_running_server(plain_server: XenonGrpcServer) -> None:
    with rxxenon.connect(plain_server.address) as xenon:
        assert xenon.get_scheduler_adaptor_names() == SIX_ADAPTORS
        with xenon.local_scheduler() as scheduler:
            assert scheduler.get_queue_names() == ["single", "multi", "unlimited"]


def test_two_servers_get_different_ports(plain_server: XenonGrpcServer) -> None:
    with XenonGrpcServer() as other:
        assert other.port != plain_server.port
        assert other.pid != plain_server.pid
        assert adaptor_names(other) == adaptor_names(plain_server) == SIX_ADAPTORS


def test_a_given_port_in_use_is_a_start_error(held_port: int) -> None:
    before = children()
    server = XenonGrpcServer(port=held_port)
    with pytest.raises(XenonGrpcStartError, match=f"port {held_port}: it is in use"):
        server.start()
    assert children() == before
    assert not server.running


def test_a_given_free_port_is_used() -> None:
    port = _process.pick_free_port()
    with XenonGrpcServer(port=port) as server:
        assert server.port == port
        assert adaptor_names(server) == SIX_ADAPTORS


def test_without_port_discovery_a_taken_port_is_retried(
    held_port: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # As on a system without /proc: pick a free port, pass it, retry when the JVM cannot
    # bind it. The first pick is taken by someone else.
    caplog.set_level(logging.INFO, logger="rxxenon.xenon_grpc")
    monkeypatch.setattr(_process, "port_discovery_supported", lambda: False)
    picks = iter([held_port])
    real_pick = _process.pick_free_port
    monkeypatch.setattr(_process, "pick_free_port", lambda: next(picks, None) or real_pick())
    before = children()
    with XenonGrpcServer() as server:
        assert server.port != held_port
        assert adaptor_names(server) == SIX_ADAPTORS
    assert children() == before
    assert any(
        f"port {held_port} was taken before xenon-grpc could bind it" in r.getMessage()
        for r in caplog.records
    )


def test_ready_timeout_stops_the_process() -> None:
    before = children()
    with pytest.raises(XenonGrpcStartError, match=r"did not answer a gRPC call within 0\.05 s"):
        XenonGrpcServer(ready_timeout=0.05).start()
    assert children() == before


def test_stopped_when_garbage_collected() -> None:
    server = XenonGrpcServer().start()
    pid = server.pid
    assert pid is not None
    del server
    gc.collect()
    assert not alive(pid)


def test_stopped_at_interpreter_exit(tmp_path: Path) -> None:
    script = (
        "from rxxenon.xenon_grpc import XenonGrpcServer\n"
        "server = XenonGrpcServer().start()\n"
        "print(server.pid, flush=True)\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=50
    )
    assert result.returncode == 0, result.stderr
    pid = int(result.stdout.split()[0])
    try:
        assert not alive(pid)
    finally:
        if alive(pid):  # leave nothing running if the test failed
            os.kill(pid, 9)
