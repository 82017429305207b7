"""Every example runs against the embedded server and prints what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_pingpong() -> None:
    out = run_example("pingpong.py").splitlines()
    words = ["ping", "pong", "hello", "reactive", "world"]
    assert [line for line in out if line.startswith(">")] == [f"> {w}" for w in words]
    assert [line for line in out if line.startswith("<")] == [f"< {w.upper()}" for w in words]
    # Strictly alternating: each line goes out only after the previous reply came back.
    exchange = [line for line in out if line[:1] in "<>"]
    assert exchange == [x for w in words for x in (f"> {w}", f"< {w.upper()}")]
    assert out[-1] == "exit status 0"


def test_rot13() -> None:
    assert run_example("rot13.py", "Hello, World!", "abc") == "Uryyb, Jbeyq!\nnop\n"


def test_error_census() -> None:
    out = run_example("error_census.py", "--jobs", "3", "--lines", "40").splitlines()
    live = [line for line in out if ": ERROR event" in line]
    per_job = {
        line.split(":")[0]: int(line.split()[1])
        for line in out
        if line.endswith(" errors") and not line.startswith("total")
    }
    assert sorted(per_job) == ["local-0", "local-1", "local-2"]
    assert sum(per_job.values()) == len(live)
    assert out[-1] == f"total: {len(live)} errors"


def test_data_pipeline() -> None:
    out = run_example("data_pipeline.py", "--count", "300000").splitlines()
    assert any(line.startswith("uploaded  ") and "MiB" in line for line in out)
    assert any(line.startswith("uploaded ") and "MiB to " in line for line in out)
    states = [line.split(": ")[1] for line in out if line.startswith("local-0: ")]
    assert states[-1] == "DONE"
    assert any(line.startswith("downloaded") for line in out)
    assert "300000 numbers, sorted: True" in out
