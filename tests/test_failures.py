"""When the other side goes away: a client killed mid-job, a server killed mid-stream."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

import rxxenon
from tests.helpers import Collector, wait_for
from tests.server._serve import serve

# Kills an ``rxxenon serve`` process or a client process.
pytestmark = pytest.mark.embedded_only


@pytest.fixture
def standalone_server() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``rxxenon serve`` in a process of its own; yields it and its address."""
    with serve() as served:
        yield served.process, served.address


CLIENT = textwrap.dedent(
    """
    import sys, rxxenon
    xenon = rxxenon.connect(sys.argv[1])
    scheduler = xenon.local_scheduler()
    code = "import sys\\nsys.stdin.read()\\nfor _ in range(20000): print('x' * 500)"
    job = scheduler.submit_interactive_job(
        rxxenon.JobDescription(
            executable=sys.executable, arguments=["-c", code], queue_name="multi"
        ),
        timeout=30,
    )
    print(scheduler.id, job.id, flush=True)
    job.stdout.subscribe(lambda chunk: None)
    sys.stdin.read()  # wait to be killed
    """
)


def test_a_client_that_disappears_mid_job_leaves_the_job_to_finish(
    standalone_server: tuple[subprocess.Popen[bytes], str],
) -> None:
    _, address = standalone_server
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, address],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert client.stdout is not None
    assert client.stdin is not None
    try:
        scheduler_id, job_id = client.stdout.readline().split()
    finally:
        client.kill()
        client.wait(10)
        client.stdout.close()
        client.stdin.close()
    with rxxenon.connect(address) as xenon:
        scheduler = rxxenon.Scheduler(xenon, scheduler_id)
        # The server closed the job's stdin and drained its 10 MB of output, so it ends.
        status = scheduler.wait_until_done(job_id, timeout=30)
        assert (status.state, status.exit_code) == ("DONE", 0)


def test_a_server_killed_mid_stream_is_a_typed_error(
    standalone_server: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, address = standalone_server
    with rxxenon.connect(address) as xenon:
        scheduler = xenon.local_scheduler()  # not closed: the server will be gone
        job = scheduler.submit_interactive_job(
            rxxenon.JobDescription(executable="cat", queue_name="multi"), timeout=30
        )
        out = Collector[bytes]()
        job.stdout.subscribe(out)
        job.send("before\n")
        assert wait_for(lambda: out.items == [b"before\n"])
        process.kill()
        process.wait(10)
        out.wait()
        assert isinstance(out.error, rxxenon.UnavailableError), repr(out.error)
        with pytest.raises(rxxenon.UnavailableError):
            scheduler.get_queue_names()
