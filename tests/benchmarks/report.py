"""Render the tables of a finished run from its JSON lines (``run.py --output FILE``).

Usage, from the project root::

    python -m tests.benchmarks.report FILE
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.benchmarks.scenarios import params_for
from tests.benchmarks.targets import all_tables


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.report")
    parser.add_argument("file", type=Path, help="the JSON lines of a run")
    options = parser.parse_args(argv)
    records: list[dict[str, Any]] = [
        json.loads(line) for line in options.file.read_text().splitlines() if line.strip()
    ]
    results = [r for r in records if "scenario" in r]
    for record in records:
        for key in ("machine", "finished"):
            if key in record:
                print(f"{key}: {json.dumps(record[key], indent=1)}\n")
    quick = any(r.get("machine", {}).get("quick") for r in records)
    jobs = params_for(quick).concurrent_jobs
    print(all_tables(results, concurrent_jobs=jobs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
