"""``rxxenon serve`` (``python -m rxxenon serve``) as a separate process."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from rxxenon.server._malloc import is_glibc

from ._serve import ROOT, minor_faults, serve, wait_exit
from ._support import SchedulerClient, poll_until, process_gone, read_pid

# ``rxxenon serve``, the embedded server as a process of its own.
pytestmark = pytest.mark.embedded_only


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_until_a_signal_then_kill_the_jobs(signum: int, tmp_path: Path) -> None:
    with serve() as served:
        assert re.fullmatch(r"listening on 127\.0\.0\.1:\d+", served.line), served.line
        with grpc.insecure_channel(served.address) as channel:
            stub = pb_grpc.SchedulerServiceStub(channel)
            assert list(stub.getAdaptorNames(pb.Empty(), timeout=10).name) == ["local"]
            sched = SchedulerClient(stub, stub.localScheduler(pb.Empty(), timeout=10))
            running = sched.submit(
                "sh", "-c", "sleep 60 & echo $! > child; wait", working_directory=str(tmp_path)
            )
            finished = sched.submit(
                "sh",
                "-c",
                "sleep 60 & echo $! > orphan",
                working_directory=str(tmp_path),
                queue_name="unlimited",
            )
            leader = sched.interactive("sh", "-c", "echo $$; exec sleep 60", queue_name="unlimited")
            leader.first()
            interactive_pid = int(leader.next().stdout)
            child = read_pid(tmp_path / "child")
            orphan = read_pid(tmp_path / "orphan")
            assert sched.wait_running(running).state == "RUNNING"
            assert sched.wait_done(finished).state == "DONE"  # its background sleep lives on
            assert not process_gone(orphan)
            served.process.send_signal(signum)
            assert wait_exit(served.process) == 0
            leader.close()
        for pid in (child, orphan, interactive_pid):
            poll_until(lambda pid=pid: process_gone(pid), what=f"process {pid} to be killed")
        assert served.process.stdout is not None
        assert served.process.stdout.read() == b""  # exactly one line


def test_serve_on_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "rxxenon", "serve", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 1
    assert result.stdout == b""
    last_line = result.stderr.decode().splitlines()[-1]  # grpc may log a line before it
    assert last_line == f"rxxenon serve: cannot listen on 127.0.0.1:{port}"


#: Bytes of the file read through the server in the allocator test.
_FILE_BYTES = 32 * 1024 * 1024


@pytest.mark.skipif(not is_glibc(), reason="rxxenon serve tunes glibc's allocator only")
@pytest.mark.parametrize("python_path", ["", str(ROOT)], ids=["no-PYTHONPATH", "PYTHONPATH=root"])
def test_a_file_read_reuses_the_servers_buffers(python_path: str, tmp_path: Path) -> None:
    """A file streams without the server touching fresh memory for every piece it sends.

    With glibc's adaptive thresholds the buffers of each 256 KiB piece were mapped, touched
    page by page and returned after it, or not, depending on incidental state (here, on the
    server's PYTHONPATH): about 3.5 page faults per page sent, and half the throughput.
    """
    path = tmp_path / "data"
    path.write_bytes(bytes(_FILE_BYTES))
    with (
        serve(python_path=python_path) as served,
        grpc.insecure_channel(
            served.address, options=[("grpc.max_receive_message_length", -1)]
        ) as channel,
    ):
        stub = pb_grpc.FileSystemServiceStub(channel)
        fs = stub.create(pb.CreateFileSystemRequest(adaptor="file"), timeout=10)
        request = pb.PathRequest(filesystem=fs, path=pb.Path(path=str(path)))
        warm_up = sum(len(r.buffer) for r in stub.readFromFile(request, timeout=60))
        before = minor_faults(served.process.pid)
        received = sum(len(r.buffer) for r in stub.readFromFile(request, timeout=60))
        faults = minor_faults(served.process.pid) - before
    assert warm_up == received == _FILE_BYTES
    pages = _FILE_BYTES // 4096
    assert faults < pages // 8, f"{faults} page faults for {pages} pages sent"
