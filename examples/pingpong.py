"""Ping-pong with an interactive job, reactively.

The job upper-cases each line it reads. We send a line, wait for its reply, send the next
one, and after the last reply close the job's stdin and print its exit status. This is the
ping-pong of PyXenon's "Streaming & Interactive jobs" page, without a Queue-fed generator:
the stream of replies itself paces the stream of requests.

Run it with ``python examples/pingpong.py`` (embedded server) or pass ``--address host:port``
of a running Xenon gRPC server.
"""

from __future__ import annotations

import argparse
import sys

import reactivex
from reactivex import operators as ops

import rxxenon
from rxxenon.operators import decode, lines

UPPER_CASER = "import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)"
WORDS = ["ping", "pong", "hello", "reactive", "world"]


def line_to_send(word_and_previous_reply: tuple[str, str]) -> str:
    word, _ = word_and_previous_reply
    print(f"> {word}", flush=True)
    return word + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", help="host:port of a Xenon gRPC server (default: embedded)")
    options = parser.parse_args(argv)

    with rxxenon.connect(options.address) as xenon, xenon.local_scheduler() as scheduler:
        description = rxxenon.JobDescription(
            executable=sys.executable, arguments=["-u", "-c", UPPER_CASER], queue_name="multi"
        )
        job = scheduler.submit_interactive_job(description, timeout=30)
        replies = job.stdout.pipe(decode(), lines(), ops.share())
        replies.subscribe(lambda reply: print(f"< {reply}", flush=True))

        # Line i goes out once reply i-1 is in; when the words run out, stdin closes. The
        # replies are subscribed to before the "" that sends the first line: the reply can
        # come back before a later subscription (start_with would subscribe after sending).
        previous_replies = reactivex.merge(replies, reactivex.of(""))
        reactivex.zip(reactivex.from_iterable(WORDS), previous_replies).pipe(
            ops.map(line_to_send)
        ).subscribe(job.stdin)

        status = job.wait(timeout=60)
        print(f"exit status {status.exit_code}")
        return status.exit_code


if __name__ == "__main__":
    sys.exit(main())
