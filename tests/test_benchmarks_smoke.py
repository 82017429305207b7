"""The benchmark program itself works: a quick run of two scenarios, no Java needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmarks.run import FIELDS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_run_prints_json_lines_and_the_target_table(tmp_path: Path) -> None:
    output = tmp_path / "results.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.benchmarks.run",
            "--quick",
            "--scenarios",
            "pingpong,unary_latency",
            "--clients",
            "rxxenon-embedded,grpcaio-embedded,pipes",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert output.read_text().splitlines() == [
        line for line in done.stdout.splitlines() if line.startswith("{")
    ]
    machine = records[0]["machine"]
    assert machine["cores"] >= 1
    assert machine["python"]
    results = [r for r in records if "scenario" in r]
    assert [(r["scenario"], r["setup"]) for r in results] == [
        ("pingpong", "rxxenon-embedded"),
        ("pingpong", "grpcaio-embedded"),
        ("pingpong", "pipes"),
        ("unary_latency", "rxxenon-embedded"),
        ("unary_latency", "grpcaio-embedded"),
        ("unary_latency", "pipes"),
    ]
    for result in results:
        assert result.keys() >= set(FIELDS)
    by_setup = {(r["scenario"], r["setup"]): r for r in results}
    for key in [
        ("pingpong", "rxxenon-embedded"),
        ("pingpong", "grpcaio-embedded"),
        ("pingpong", "pipes"),
        ("unary_latency", "rxxenon-embedded"),
        ("unary_latency", "grpcaio-embedded"),
    ]:
        result = by_setup[key]
        assert result["status"] == "ok", result
        assert result["n"] > 0
        assert 0 < result["median"] <= result["p90"]
        assert result["client_peak_rss_mb"] > 0
    assert by_setup[("pingpong", "rxxenon-embedded")]["server_peak_rss_mb"] > 0
    assert by_setup[("unary_latency", "pipes")]["status"].startswith("cannot run: ")
    assert "| pingpong median: rxxenon-embedded vs pipes |" in done.stdout
