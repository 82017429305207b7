"""Upload a generated data file, run a job on it, stream the result back, with progress.

1. A million random numbers are generated lazily and streamed into a file on the scheduler's
   file system; a progress line is printed for every 2 MiB sent.
2. A batch job sorts the file; its state changes are printed as they happen.
3. The sorted file is streamed back and summarised line by line, with progress again.

Run it with ``python examples/data_pipeline.py`` (embedded server) or pass ``--address``.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import uuid
from collections.abc import Callable, Iterator

from reactivex import operators as ops

import rxxenon
from rxxenon.operators import decode, lines

MIB = 1 << 20


def numbers(count: int, seed: int) -> Iterator[bytes]:
    """``count`` random integers, one per line, in chunks of about 64 KiB."""
    rng = random.Random(seed)
    batch: list[str] = []
    for _ in range(count):
        batch.append(str(rng.randrange(10**9)))
        if len(batch) == 6000:
            yield ("\n".join(batch) + "\n").encode()
            batch.clear()
    if batch:
        yield ("\n".join(batch) + "\n").encode()


def progress(label: str, step: int = 2 * MIB) -> Callable[[bytes], bytes]:
    """A mapper that passes chunks on and prints a line each time ``step`` more bytes passed."""
    seen = 0

    def count(chunk: bytes) -> bytes:
        nonlocal seen
        before, seen = seen, seen + len(chunk)
        if seen // step > before // step:
            print(f"{label} {seen / MIB:6.1f} MiB", flush=True)
        return chunk

    return count


def show_state(status: rxxenon.JobStatus) -> None:
    print(f"{status.job.id}: {status.state}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="how many numbers")
    parser.add_argument("--address", help="host:port of a Xenon gRPC server (default: embedded)")
    options = parser.parse_args(argv)

    with rxxenon.connect(options.address) as xenon, xenon.local_scheduler() as scheduler:
        fs = scheduler.get_file_system()
        workdir = fs.get_working_directory() / f"rxxenon-pipeline-{uuid.uuid4().hex[:8]}"
        fs.create_directories(workdir)
        try:
            data = workdir / "numbers.txt"
            # The file's pieces are made as the upload asks for them (flow control), so the
            # progress lines follow the upload itself.
            chunks = map(progress("uploaded  "), numbers(options.count, seed=42))
            sent = fs.write(data, chunks).run()
            print(f"uploaded {sent / MIB:.1f} MiB to {data}", flush=True)

            job = scheduler.submit_batch_job(
                rxxenon.JobDescription(
                    executable="sort",
                    arguments=["-n", "-o", "sorted.txt", "numbers.txt"],
                    working_directory=str(workdir),
                    queue_name="unlimited",
                )
            )
            # run() returns the last status: the final one.
            final = scheduler.status_changes(job).pipe(ops.do_action(show_state)).run()
            if not final.succeeded:
                print(f"sort failed: {final.error_message or final.exit_code}", file=sys.stderr)
                return 1

            values = (
                fs.read(workdir / "sorted.txt")
                .pipe(
                    ops.map(progress("downloaded")),
                    decode(),
                    lines(),
                    ops.map(int),
                    ops.to_list(),
                )
                .run()
            )
            ordered = all(a <= b for a, b in itertools.pairwise(values))
            print(f"{len(values)} numbers, sorted: {ordered}")
            print(f"min {values[0]}, median {values[len(values) // 2]}, max {values[-1]}")
            return 0 if ordered and len(values) == options.count else 1
        finally:
            fs.delete(workdir, recursive=True)


if __name__ == "__main__":
    sys.exit(main())
