"""Run the benchmark: each (scenario, client, server) in fresh processes; JSON lines out.

Usage, from the project root::

    python -m tests.benchmarks.run [--scenarios a,b] [--clients x,y] [--quick] [--repeat N]
                                   [--output FILE]

Prints a ``{"machine": ...}`` line, then one JSON line per (scenario, client-server) as it
finishes, then a results table and the table of the issue's targets. Progress goes to
stderr. Every (scenario, client-server) gets a fresh server process and a fresh client
process, so each peak RSS and thread count belongs to that scenario alone.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from tests.benchmarks import machine, pyxenon_env
from tests.benchmarks.aggregate import combine
from tests.benchmarks.clients._common import RESULT_PREFIX, Params, chunks, raise_nofile_limit
from tests.benchmarks.procstat import Sampler, cpu_seconds, open_files_limit
from tests.benchmarks.scenarios import (
    DEFAULT_SETUPS,
    SCENARIOS,
    SETUPS,
    WARM_UP_SCENARIO,
    WARM_UP_TIMEOUT,
    Scenario,
    Setup,
    params_for,
    timeout_for,
    warm_up_params,
)
from tests.benchmarks.servers import ServerUnavailable, start_server
from tests.benchmarks.targets import all_tables

ROOT = Path(__file__).resolve().parents[2]

#: The fields of a result line, in this order (more may follow).
FIELDS = (
    "scenario",
    "client",
    "server",
    "setup",
    "n",
    "median",
    "p90",
    "unit",
    "throughput_mb_s",
    "jobs_s",
    "wall_s",
    "failures",
    "client_peak_rss_mb",
    "server_peak_rss_mb",
    "client_threads_max",
    "server_threads_max",
    "status",
)


#: In the status of a measurement that a known defect of the server spoiled (the client's
#: ServerDefect): it is made again, once, with a fresh server, and the record keeps it under
#: ``redone``.
SERVER_DEFECT = "failed: ServerDefect: "


def _names(text: str | None, default: Sequence[str], known: Sequence[str], what: str) -> list[str]:
    if not text:
        return list(default)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scenarios", help=f"comma-separated, of: {', '.join(SCENARIOS)}")
    parser.add_argument(
        "--clients",
        help=f"comma-separated client-server setups, of: {', '.join(SETUPS)} "
        f"(default: {', '.join(DEFAULT_SETUPS)})",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run every measurement N times (interleaved) and report the median run (default 1)",
    )
    parser.add_argument("--output", type=Path, help="also write the JSON lines to this file")
    return parser


class Run:
    """One benchmark run: the chosen scenarios and setups, and where results go."""

    def __init__(self, quick: bool, output: IO[str] | None) -> None:
        self.quick = quick
        self.output = output
        self._pyxenon: Path | str | None = None  # its python, or why it is unavailable

    def emit(self, record: dict[str, Any]) -> None:
        line = json.dumps(record)
        print(line, flush=True)
        if self.output is not None:
            self.output.write(line + "\n")
            self.output.flush()

    def pyxenon_python(self) -> Path | str:
        """PyXenon's virtualenv python (made on first use), or why there is none."""
        if self._pyxenon is None:
            try:
                self._pyxenon = pyxenon_env.ensure_venv()
            except (pyxenon_env.PyXenonUnavailable, OSError, subprocess.SubprocessError) as e:
                self._pyxenon = f"no PyXenon virtualenv: {e}"
        return self._pyxenon

    def client_command(self, setup: Setup) -> tuple[list[str], dict[str, str]] | str:
        """The client's interpreter and environment, or why it cannot run."""
        env = dict(os.environ)
        python: Path | str = sys.executable
        if setup.client == "pyxenon":
            python = self.pyxenon_python()
            if not isinstance(python, Path):
                return python
            env.update(pyxenon_env.PYXENON_ENV)
        module = f"tests.benchmarks.clients.{setup.module}"
        return [str(python), "-m", module], env

    def run_one(self, scenario: Scenario, setup: Setup) -> dict[str, Any]:
        """Run one scenario with one setup, in fresh processes; its result record."""
        record: dict[str, Any] = {
            "scenario": scenario.name,
            "client": setup.client,
            "server": setup.server,
            "setup": setup.name,
        }
        command = self.client_command(setup)
        if isinstance(command, str):
            return {**record, "status": f"cannot run: {command}"}
        workdir = tempfile.mkdtemp(prefix="rxxenon-bench-")
        try:
            params = params_for(
                self.quick, workdir=workdir, python=sys.executable, **dict(setup.params)
            )
            if scenario.name == "file_read":
                _write_file(params)
            try:
                server = start_server(setup.server)
            except ServerUnavailable as error:
                return {**record, "status": f"cannot run: {error}"}
            except Exception as error:
                return {**record, "status": f"failed: server did not start: {error}"}
            try:
                params = dataclasses.replace(params, address=server.address)
                warm_up = self._warm_up(scenario, params) if server.pid is not None else None
                record.update(self._client(scenario, params, command, server.pid))
                record["server_warm_up"] = warm_up
                if server.kind == "in-process":  # the client process is the server too
                    record["server_peak_rss_mb"] = record.get("client_peak_rss_mb")
                    record["server_threads_max"] = record.get("client_threads_max")
                if server.pid is not None:
                    record["server_nofile"] = open_files_limit(server.pid)
            finally:
                server.stop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return record

    def _warm_up(self, scenario: Scenario, params: Params) -> str:
        """Warm the fresh server up: the grpcio client runs the scenario, smaller.

        Returns the warm-up's status (``ok`` or why not); a failed warm-up is reported in
        the result, and the measurement goes ahead.
        """
        warm_dir = os.path.join(params.workdir, "warm-up")
        os.mkdir(warm_dir)
        warm = warm_up_params(
            dataclasses.replace(params, workdir=warm_dir), self.quick, scenario.name
        )
        name = WARM_UP_SCENARIO.get(scenario.name, scenario.name)
        if name == "file_read":
            _write_file(warm)
        argv = [
            sys.executable,
            "-m",
            "tests.benchmarks.clients.grpcio_client",
            "--scenario",
            name,
            "--params",
            warm.to_json(),
        ]
        try:
            done = subprocess.run(
                argv, cwd=ROOT, capture_output=True, text=True, timeout=WARM_UP_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            return f"failed: no result within {WARM_UP_TIMEOUT:.0f} s"
        finally:
            shutil.rmtree(warm_dir, ignore_errors=True)
        status = _parse_result(done.stdout).get("status")
        return str(status) if status else f"failed: exit status {done.returncode}"

    def _client(
        self,
        scenario: Scenario,
        params: Params,
        command: tuple[list[str], dict[str, str]],
        server_pid: int | None,
    ) -> dict[str, Any]:
        argv, env = command
        argv = [*argv, "--scenario", scenario.name, "--params", params.to_json()]
        timeout = timeout_for(scenario, self.quick)
        sampler = Sampler()
        server_peaks = sampler.watch(server_pid) if server_pid is not None else None
        server_cpu_before = cpu_seconds(server_pid) if server_pid is not None else None
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        client_peaks = sampler.watch(process.pid)
        sampler.start()
        timed_out = False
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process.pid)
            out, err = process.communicate()
        finally:
            sampler.stop()
        _kill_group(process.pid)  # whatever the client left behind (the pipes' jobs)
        result = _parse_result(out)
        if timed_out:
            result["status"] = f"failed: no result within {timeout:.0f} s (client killed)"
        elif result.get("status") is None:
            tail = " | ".join(err.strip().splitlines()[-5:])
            result["status"] = f"failed: client exited with {process.returncode}: {tail}"
        elif result["status"].startswith("failed"):
            print(err.strip()[-2000:], file=sys.stderr)
        result["client_threads_max"] = client_peaks.threads or None
        if server_peaks is not None:
            result["server_peak_rss_mb"] = server_peaks.rss_mb
            result["server_threads_max"] = server_peaks.threads or None
        if server_pid is not None and server_cpu_before is not None:
            server_cpu_after = cpu_seconds(server_pid)
            if server_cpu_after is not None:  # what the server spent serving this measurement
                result["server_cpu_s"] = round(server_cpu_after - server_cpu_before, 2)
        return result


def _parse_result(out: str) -> dict[str, Any]:
    for line in reversed(out.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result
    return {}


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _write_file(params: Params) -> None:
    with open(params.file_path, "wb") as file:
        for piece in chunks(params.file_bytes, params.chunk):
            file.write(piece)


def _ordered(record: dict[str, Any]) -> dict[str, Any]:
    ordered = {field: record.get(field) for field in FIELDS}
    ordered.update((k, v) for k, v in record.items() if k not in ordered)
    return ordered


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    scenarios = _names(options.scenarios, list(SCENARIOS), list(SCENARIOS), "scenarios")
    setups = _names(options.clients, DEFAULT_SETUPS, list(SETUPS), "clients")
    nofile = raise_nofile_limit()
    print(f"open-files limit (RLIMIT_NOFILE) raised to {nofile}", file=sys.stderr)
    output = open(options.output, "w") if options.output else None  # noqa: SIM115
    run = Run(options.quick, output)
    started = time.monotonic()
    cpu = machine.CpuAccount()
    try:
        description = machine.describe_machine()
        description["open_files_limit"] = nofile
        description["quick"] = options.quick
        description["repeat"] = options.repeat
        if any(SETUPS[s].client == "pyxenon" for s in setups):
            python = run.pyxenon_python()
            description["pyxenon_venv"] = (
                pyxenon_env.versions(python) if isinstance(python, Path) else python
            )
        run.emit({"machine": description})
        results = []
        for name in scenarios:
            scenario = SCENARIOS[name]
            chosen = [setup for setup in setups if SETUPS[setup].runs(name)]
            runs: dict[str, list[dict[str, Any]]] = {setup: [] for setup in chosen}
            for repeat in range(options.repeat):
                for setup_name in chosen:
                    record = run.run_one(scenario, SETUPS[setup_name])
                    if SERVER_DEFECT in str(record.get("status")):  # once, on a fresh server
                        print(f"{name} / {setup_name}: {record['status']}", file=sys.stderr)
                        first = record["status"]
                        record = {**run.run_one(scenario, SETUPS[setup_name]), "redone": first}
                    runs[setup_name].append(record)
                    figure = record.get(scenario.metric)
                    print(
                        f"{name} / {setup_name} (run {repeat + 1} of {options.repeat}): "
                        f"{figure if figure is not None else record.get('status')}",
                        file=sys.stderr,
                        flush=True,
                    )
            for setup_name in chosen:
                result = _ordered(combine(scenario, runs[setup_name]))
                if redone := [r["redone"] for r in runs[setup_name] if "redone" in r]:
                    result["redone"] = redone  # every run's, not only the median one's
                results.append(result)
                run.emit(result)
        elapsed = time.monotonic() - started
        run.emit(
            {
                "finished": {
                    "seconds": round(elapsed, 1),
                    "load_average_at_end": [round(x, 2) for x in machine.load_average()],
                    **cpu.report(),
                }
            }
        )
    finally:
        if output is not None:
            output.close()
    print()
    print(all_tables(results, concurrent_jobs=params_for(options.quick).concurrent_jobs))
    if options.quick:
        print("\n(--quick: small sizes; the targets are for a full run)")
    print(f"\nran {len(results)} x {options.repeat} measurements in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
