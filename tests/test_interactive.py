"""Interactive jobs on both servers: stdin as an Observer, output as Observables."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import reactivex
from reactivex import operators as ops

import rxxenon
from rxxenon import JobDescription, LoopThreadError, OutputDiscardedError, Stderr, Stdout
from rxxenon.operators import decode, lines
from tests.conftest import python_job
from tests.helpers import Collector, wait_for
from tests.servers import ServerUnderTest

UPPER = "import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)"
CAT = JobDescription(executable="cat", queue_name="unlimited")


def delivery_threads() -> set[threading.Thread]:
    """The delivery threads of every connection of this process."""
    return {t for t in threading.enumerate() if t.name.startswith("rxxenon-delivery")}


def ping_pong(
    job: rxxenon.InteractiveJob,
    words: list[str],
    on_reply: Callable[[str], None] | None = None,
) -> list[str]:
    """Send each word after the previous reply; return the replies. ``on_reply`` sees each
    reply first, in the reply handler (before the next word is sent)."""
    replies: list[str] = []
    finished = threading.Event()
    remaining = iter(words)

    def send_next() -> None:
        word = next(remaining, None)
        if word is None:
            job.close_stdin()
        else:
            job.send(word + "\n")

    def handle(reply: str) -> None:
        if on_reply is not None:
            on_reply(reply)
        replies.append(reply)
        send_next()

    job.stdout.pipe(decode(), lines()).subscribe(handle, on_completed=finished.set)
    send_next()
    assert finished.wait(30), f"ping-pong stalled after {replies}"
    return replies


def test_ping_pong_then_eof_and_exit_status(scheduler: rxxenon.Scheduler) -> None:
    job = scheduler.submit_interactive_job(python_job(UPPER), timeout=30)
    assert job.id.startswith("local-")
    words = [f"line {i}" for i in range(50)]
    assert ping_pong(job, words) == [w.upper() for w in words]
    status = job.wait(timeout=30)
    assert status.done
    assert status.exit_code == 0
    assert status.succeeded
    assert job.wait() is status  # asking again returns the same final status


def test_exit_code_is_reported(scheduler: rxxenon.Scheduler) -> None:
    job = scheduler.submit_interactive_job(python_job("import sys; sys.exit(3)"), timeout=30)
    status = job.wait(timeout=30)
    assert (status.state, status.exit_code, status.succeeded) == ("DONE", 3, False)


def test_str_stdin_is_sent_as_utf8(scheduler: rxxenon.Scheduler) -> None:
    job = scheduler.submit_interactive_job(CAT, timeout=30)
    out = Collector[bytes]()
    job.stdout.subscribe(out)
    job.send("héllo €\n")
    job.close_stdin()
    out.wait()
    assert b"".join(out.items) == "héllo €\n".encode()


def test_stdin_observable_given_at_submit_is_subscribed(scheduler: rxxenon.Scheduler) -> None:
    pieces = [f"{i}\n".encode() for i in range(1000)]
    job = scheduler.submit_interactive_job(CAT, stdin=reactivex.from_iterable(pieces), timeout=30)
    text = job.stdout.pipe(decode(), lines(), ops.to_list()).run()
    assert text == [str(i) for i in range(1000)]
    assert job.wait(timeout=30).exit_code == 0


def test_stdin_on_completed_gives_the_job_eof(scheduler: rxxenon.Scheduler) -> None:
    job = scheduler.submit_interactive_job(
        python_job("import sys; data = sys.stdin.read(); print(len(data))"), timeout=30
    )
    out = job.stdout.pipe(decode(), lines(), ops.to_list())
    job.send("12345")
    job.close_stdin()
    assert out.run() == ["5"]
    assert job.wait(timeout=30).exit_code == 0


def test_stdin_error_cancels_the_call_and_reaches_the_output(scheduler: rxxenon.Scheduler) -> None:
    job = scheduler.submit_interactive_job(CAT, timeout=30)
    out = Collector[bytes]()
    job.stdout.subscribe(out)
    problem = RuntimeError("producer broke")
    job.stdin.on_error(problem)
    out.wait()
    assert out.error is problem
    job.wait(timeout=30)  # the server closed cat's stdin when the call went away


def test_stdout_then_stderr_right_after_submit_lose_nothing(scheduler: rxxenon.Scheduler) -> None:
    # 1 MB of text, interleaved over both streams, starting the moment the job runs.
    writer = (
        "import sys\n"
        "for i in range(10000):\n"
        "    sys.stdout.write(f'out {i:06d} ' + 'o' * 38 + '\\n')\n"
        "    sys.stderr.write(f'err {i:06d} ' + 'e' * 38 + '\\n')\n"
    )
    job = scheduler.submit_interactive_job(python_job(writer), timeout=30)
    out, err = Collector[bytes](), Collector[bytes]()
    job.stdout.subscribe(out)
    job.stderr.subscribe(err)
    out.wait()
    err.wait()
    expected_out = "".join(f"out {i:06d} " + "o" * 38 + "\n" for i in range(10000)).encode()
    expected_err = "".join(f"err {i:06d} " + "e" * 38 + "\n" for i in range(10000)).encode()
    assert b"".join(out.items) == expected_out
    assert b"".join(err.items) == expected_err
    assert len(expected_out) + len(expected_err) == 1_000_000
    assert job.wait(timeout=30).exit_code == 0


def test_output_events_are_typed_and_ordered(scheduler: rxxenon.Scheduler) -> None:
    code = (
        "import sys\n"
        "for i in range(3):\n"
        "    sys.stdout.write(f'o{i}\\n'); sys.stdout.flush()\n"
        "    sys.stdin.readline()\n"  # wait for our go, so the order is fixed
        "    sys.stderr.write(f'e{i}\\n'); sys.stderr.flush()\n"
        "    sys.stdin.readline()\n"
    )
    job = scheduler.submit_interactive_job(python_job(code), timeout=30)
    events = Collector[rxxenon.OutputEvent](on_item=lambda _: job.send("go\n"))
    job.output.subscribe(events)
    events.wait()
    assert events.items == [
        Stdout(b"o0\n"), Stderr(b"e0\n"),
        Stdout(b"o1\n"), Stderr(b"e1\n"),
        Stdout(b"o2\n"), Stderr(b"e2\n"),
    ]  # fmt: skip


def test_output_nobody_subscribed_to_is_kept_up_to_the_limit(scheduler: rxxenon.Scheduler) -> None:
    code = "import sys\nsys.stderr.write('x' * 100000)\nprint('done', flush=True)"
    job = scheduler.submit_interactive_job(python_job(code), timeout=30, keep_limit=1000)
    out = Collector[bytes]()
    job.stdout.subscribe(out)
    out.wait()
    late = Collector[bytes]()
    job.stderr.subscribe(late)
    late.wait()
    assert isinstance(late.error, OutputDiscardedError)
    assert "stderr" in str(late.error)
    job.wait(timeout=30)


def test_a_late_subscriber_gets_what_nobody_took(scheduler: rxxenon.Scheduler) -> None:
    job = scheduler.submit_interactive_job(
        python_job(
            "import sys; sys.stdout.write('to stdout\\n'); sys.stderr.write('to stderr\\n')"
        ),
        timeout=30,
    )
    assert b"".join(job.stdout.pipe(ops.to_list()).run()) == b"to stdout\n"
    assert job.wait(timeout=30).exit_code == 0
    assert b"".join(job.stderr.pipe(ops.to_list()).run()) == b"to stderr\n"  # after it ended


def test_cancel_kills_the_job_and_completes_the_output(scheduler: rxxenon.Scheduler) -> None:
    job = scheduler.submit_interactive_job(
        python_job("import time\nprint('up', flush=True)\ntime.sleep(60)"), timeout=30
    )
    out = Collector[bytes]()
    job.stdout.subscribe(out)
    assert wait_for(lambda: b"".join(out.items) == b"up\n")
    status = job.cancel()
    assert (status.state, status.error_type) == ("KILLED", rxxenon.JobErrorType.CANCELLED)
    out.wait()
    assert out.completed
    assert job.wait(timeout=30) is status


def test_detach_leaves_the_job_running(scheduler: rxxenon.Scheduler) -> None:
    job = scheduler.submit_interactive_job(python_job("import time; time.sleep(60)"), timeout=30)
    out = Collector[bytes]()
    job.output.subscribe(out)
    job.detach()
    out.wait()
    assert out.completed
    assert scheduler.get_job_status(job.job).running
    assert scheduler.cancel_job(job.job).state == "KILLED"


def test_context_manager_cancels_an_unfinished_job(scheduler: rxxenon.Scheduler) -> None:
    with scheduler.submit_interactive_job(
        python_job("import time; time.sleep(60)"), timeout=30
    ) as job:
        assert scheduler.get_job_status(job.job).running
    with pytest.raises(rxxenon.NoSuchJobError):  # its final status was read by the cancel
        scheduler.get_job_status(job.job)


def test_interactive_validation_errors_are_raised_by_submit(scheduler: rxxenon.Scheduler) -> None:
    with pytest.raises(rxxenon.InvalidJobDescriptionError) as raised:
        scheduler.submit_interactive_job(
            JobDescription(executable="cat", stdout="out.txt"), timeout=30
        )
    assert raised.value.message == "local adaptor: Illegal stdout redirect for interactive job!"
    with pytest.raises(rxxenon.InternalError):
        scheduler.submit_interactive_job(JobDescription(executable="/no/such/program"), timeout=30)


def test_submit_times_out_while_the_job_is_queued(scheduler: rxxenon.Scheduler) -> None:
    blocker = scheduler.submit_batch_job(JobDescription(executable="sleep", arguments=["60"]))
    try:
        with pytest.raises(rxxenon.DeadlineExceededError):
            scheduler.submit_interactive_job(JobDescription(executable="cat"), timeout=0.3)
    finally:
        scheduler.cancel_job(blocker)


def test_a_slow_subscriber_slows_its_job_not_the_others(scheduler: rxxenon.Scheduler) -> None:
    release = threading.Event()
    big = (
        "import sys\nchunk = b'z' * 65536\nfor _ in range(256):\n    sys.stdout.buffer.write(chunk)"
    )
    slow_job = scheduler.submit_interactive_job(python_job(big), timeout=30)
    slow = Collector[bytes](on_item=lambda _: release.wait(30))
    slow_job.stdout.subscribe(slow)
    try:
        assert wait_for(lambda: len(slow.items) == 1)

        fast_job = scheduler.submit_interactive_job(python_job(UPPER), timeout=30)
        words = [f"w{i}" for i in range(100)]
        assert ping_pong(fast_job, words) == [w.upper() for w in words]
        assert fast_job.wait(timeout=30).exit_code == 0

        # The slow job is paced by its subscriber: it cannot finish its 16 MiB meanwhile.
        # (xenon-grpc reads it all into memory, and the job ends.)
        assert len(slow.items) == 1
        running = lambda: scheduler.get_job_status(slow_job.job).running  # noqa: E731
        assert not wait_for(lambda: not running(), timeout=1.5)
    finally:
        release.set()
    slow.wait(60)
    assert sum(len(chunk) for chunk in slow.items) == 256 * 65536
    assert slow_job.wait(timeout=30).exit_code == 0


def test_a_quick_observer_runs_on_the_loops_own_thread(
    xenon: rxxenon.Connection, scheduler: rxxenon.Scheduler
) -> None:
    # No thread hop: just before the loop selects, its own thread calls the reply
    # handler, which pushes the next line from there. (A handler stalled past 1 ms, by a
    # busy machine say, moves its call to the delivery threads: hence "in", not "==".)
    names: set[str] = set()
    job = scheduler.submit_interactive_job(python_job(UPPER), timeout=30)
    words = [f"line {i}" for i in range(50)]
    on_reply = lambda _: names.add(threading.current_thread().name)  # noqa: E731
    assert ping_pong(job, words, on_reply) == [w.upper() for w in words]
    assert xenon.loop.thread_name in names
    assert job.wait(timeout=30).exit_code == 0


def test_an_observer_may_make_blocking_calls(scheduler: rxxenon.Scheduler) -> None:
    job = scheduler.submit_interactive_job(python_job(UPPER), timeout=30)
    states: list[str] = []
    names: list[str] = []

    def on_reply(_: str) -> None:
        names.append(threading.current_thread().name)
        states.append(scheduler.get_job_status(job.job).state)

    words = [f"line {i}" for i in range(20)]
    assert ping_pong(job, words, on_reply) == [w.upper() for w in words]
    assert states == ["RUNNING"] * len(words)
    # It blocked, so its call's later notifications come on the delivery threads.
    assert names[-1].startswith("rxxenon-delivery")
    assert job.wait(timeout=30).exit_code == 0


def test_one_jobs_output_piped_into_anothers_stdin(scheduler: rxxenon.Scheduler) -> None:
    # The stdin buffer fills up, so the observer (the second job's stdin) waits for room.
    size = 8 << 20
    counter = scheduler.submit_interactive_job(
        JobDescription(executable="wc", arguments=["-c"], queue_name="unlimited"), timeout=30
    )
    counted = Collector[bytes]()
    counter.stdout.subscribe(counted)
    source = scheduler.submit_interactive_job(
        JobDescription(
            executable="head", arguments=["-c", str(size), "/dev/zero"], queue_name="unlimited"
        ),
        timeout=30,
    )
    source.stdout.subscribe(counter.stdin)
    counted.wait(60)
    assert int(b"".join(counted.items)) == size
    assert source.wait(timeout=30).exit_code == 0
    assert counter.wait(timeout=30).exit_code == 0


def test_an_exception_in_on_next_leaves_nothing_stuck(scheduler: rxxenon.Scheduler) -> None:
    job = scheduler.submit_interactive_job(
        python_job("for i in range(1000): print(i, flush=True)"), timeout=30
    )
    problem = ValueError("subscriber bug")

    def explode(_: bytes) -> None:
        raise problem

    failing = Collector[bytes](on_item=explode)
    job.stdout.subscribe(failing)
    failing.wait()
    assert failing.error is problem
    assert job.wait(timeout=30).exit_code == 0  # the rest was drained, the job finished


@pytest.mark.embedded_only  # the client's event loop
def test_blocking_calls_refuse_the_loop_thread(
    xenon: rxxenon.Connection, scheduler: rxxenon.Scheduler
) -> None:
    async def on_loop() -> Exception | None:
        try:
            scheduler.get_queue_names()
        except LoopThreadError as exc:
            return exc
        return None

    assert isinstance(xenon.loop.run(on_loop()), LoopThreadError)


@pytest.mark.embedded_only  # the client's threads
def test_200_concurrent_interactive_jobs_with_few_threads(scheduler: rxxenon.Scheduler) -> None:
    delivering_before = delivery_threads()  # (other connections of the session have theirs)
    jobs = [scheduler.submit_interactive_job(CAT, timeout=60) for _ in range(200)]
    results: list[Collector[str]] = []
    for n, job in enumerate(jobs):
        lines_out = Collector[str]()
        remaining = iter(range(5))

        def send_next(
            _: object = None, job: rxxenon.InteractiveJob = job, it=remaining, n=n
        ) -> None:  # type: ignore[no-untyped-def]
            i = next(it, None)
            if i is None:
                job.close_stdin()
            else:
                job.send(f"job {n} line {i}\n")

        job.stdout.pipe(decode(), lines(), ops.do_action(send_next)).subscribe(lines_out)
        send_next()
        results.append(lines_out)
    peak_threads = threading.active_count()
    for n, collected in enumerate(results):
        collected.wait(60)
        assert collected.items == [f"job {n} line {i}" for i in range(5)]
        peak_threads = max(peak_threads, threading.active_count())
    for job in jobs:
        assert job.wait(timeout=30).exit_code == 0
    assert len(delivery_threads() - delivering_before) <= 16
    assert peak_threads < 60, f"{peak_threads} threads for 200 jobs"


def test_delivery_on_the_loop_thread_round_trips_a_line_echo(
    xenon_server: ServerUnderTest,
) -> None:
    # delivery_threads=0: observers run on the connection's event-loop thread, and the reply
    # handler pushes the next line into stdin from there.
    before = delivery_threads()
    with (
        rxxenon.connect(xenon_server.address, delivery_threads=0) as xenon,
        xenon.local_scheduler() as scheduler,
    ):
        job = scheduler.submit_interactive_job(python_job(UPPER), timeout=30)
        on_loop: list[bool] = []
        refused: list[Exception] = []
        words = [f"line {i}" for i in range(100)]

        def on_reply(_: str) -> None:
            on_loop.append(xenon.loop.on_loop_thread())
            if len(on_loop) == 1:
                try:
                    scheduler.get_job_status(job.job)  # blocks: refused on the loop thread
                except LoopThreadError as exc:
                    refused.append(exc)

        assert ping_pong(job, words, on_reply) == [w.upper() for w in words]
        assert on_loop == [True] * len(words)
        assert len(refused) == 1
        assert job.wait(timeout=30).exit_code == 0
        assert delivery_threads() == before, "delivery_threads=0 started delivery threads"
