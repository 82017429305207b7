"""Compose the output of several jobs with Rx: merge, filter, count.

Four jobs each write a log (a line per event, some of them errors) at their own pace. Their
stdout lines are merged as they arrive, the ERROR lines are picked out and printed live,
and at the end the errors are counted per job.

Run it with ``python examples/error_census.py``.
"""

from __future__ import annotations

import argparse
import sys

import reactivex
from reactivex import operators as ops
from reactivex.observable import GroupedObservable

import rxxenon
from rxxenon.operators import decode, lines

LOGGER = """
import random, sys
seed, count = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
for i in range(count):
    level = "ERROR" if rng.random() < 0.2 else "INFO"
    print(f"{level} event {i} of worker {seed}", flush=True)
"""


Tagged = tuple[str, str]  # (job id, line)


def tag_lines(job: rxxenon.InteractiveJob) -> reactivex.Observable[Tagged]:
    """The job's stdout as lines, each tagged with the job's id."""
    return job.stdout.pipe(decode(), lines(), ops.map(lambda line: (job.id, line)))


def is_error(tagged: Tagged) -> bool:
    return tagged[1].startswith("ERROR")


def show(tagged: Tagged) -> None:
    print(f"{tagged[0]}: {tagged[1]}", flush=True)


def job_of(tagged: Tagged) -> str:
    return tagged[0]


def count_group(group: GroupedObservable[str, Tagged]) -> reactivex.Observable[tuple[str, int]]:
    """(job id, how many lines the group had), once the group completes."""
    return group.pipe(ops.count(), ops.map(lambda n: (group.key, n)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--address", help="host:port of a Xenon gRPC server (default: embedded)")
    options = parser.parse_args(argv)

    with rxxenon.connect(options.address) as xenon, xenon.local_scheduler() as scheduler:
        jobs = [
            scheduler.submit_interactive_job(
                rxxenon.JobDescription(
                    executable=sys.executable,
                    arguments=["-c", LOGGER, str(worker), str(options.lines)],
                    queue_name="unlimited",
                ),
                timeout=30,
            )
            for worker in range(options.jobs)
        ]
        tagged_lines = reactivex.merge(*(tag_lines(job) for job in jobs))
        errors = tagged_lines.pipe(ops.filter(is_error), ops.do_action(show))
        counts = errors.pipe(ops.group_by(job_of), ops.flat_map(count_group), ops.to_list())
        census = dict(counts.run())
        for job in jobs:
            job.wait(timeout=30)
        for job in jobs:
            print(f"{job.id}: {census.get(job.id, 0)} errors")
        print(f"total: {sum(census.values())} errors")
        return 0


if __name__ == "__main__":
    sys.exit(main())
