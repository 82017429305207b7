"""ROT13 through ``tr``: an Observable as stdin, the decoded stdout as the answer.

Run it with ``python examples/rot13.py [text...]``.
"""

from __future__ import annotations

import argparse
import sys

import reactivex
from reactivex import operators as ops

import rxxenon
from rxxenon.operators import decode

TEXT = "Why did the chicken cross the road?\nTo get to the other side!\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", nargs="*", help="lines to encode (default: a joke)")
    parser.add_argument("--address", help="host:port of a Xenon gRPC server (default: embedded)")
    options = parser.parse_args(argv)
    text = "".join(line + "\n" for line in options.text) or TEXT

    with rxxenon.connect(options.address) as xenon, xenon.local_scheduler() as scheduler:
        description = rxxenon.JobDescription(
            executable="tr", arguments=["A-Za-z", "N-ZA-Mn-za-m"], queue_name="multi"
        )
        # The Observable completes after the text, which closes tr's stdin.
        job = scheduler.submit_interactive_job(description, stdin=reactivex.of(text), timeout=30)
        encoded = job.stdout.pipe(decode(), ops.to_list()).run()
        print("".join(encoded), end="")
        return job.wait(timeout=30).exit_code


if __name__ == "__main__":
    sys.exit(main())
