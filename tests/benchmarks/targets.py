"""The issue's targets, checked against one run's results, and the tables that show them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tests.benchmarks.scenarios import SCENARIOS

__all__ = [
    "Verdict",
    "all_tables",
    "evaluate_adapter_over_aio",
    "evaluate_targets",
    "results_table",
    "summary_table",
    "targets_table",
]

Result = dict[str, Any]

#: "A small client thread count" for 1,000 concurrent jobs: independent of the job count.
SMALL_THREAD_COUNT = 50

#: The peak RSS limit of the memory targets, in MB.
RSS_LIMIT_MB = 100.0


@dataclass(frozen=True)
class Verdict:
    """One target: the figures compared, their ratio, the target, and whether it was met."""

    target: str
    measured: str
    ratio: float | None
    goal: str
    met: bool | None  # None: could not be judged (a result is missing or not ok)
    scenario: str = ""


class _Results:
    def __init__(self, results: Iterable[Result]) -> None:
        self._by_key = {(r["scenario"], r["setup"]): r for r in results}

    def get(self, scenario: str, setup: str) -> Result | None:
        return self._by_key.get((scenario, setup))

    def value(self, scenario: str, setup: str, field: str) -> float | None:
        result = self.get(scenario, setup)
        if result is None or result.get("status") != "ok":
            return None
        value = result.get(field)
        return float(value) if isinstance(value, int | float) else None

    def peak(self, scenario: str, setup: str, field: str) -> float | None:
        """The highest ``field`` over the runs (``<field>_all_runs``), else ``field``."""
        result = self.get(scenario, setup)
        if result is not None and result.get(f"{field}_all_runs") is not None:
            return self.value(scenario, setup, f"{field}_all_runs")
        return self.value(scenario, setup, field)

    def why_missing(self, scenario: str, *setups: str) -> str:
        reasons = []
        for setup in setups:
            result = self.get(scenario, setup)
            if result is None:
                reasons.append(f"{setup} not run")
            elif result.get("status") != "ok":
                reasons.append(f"{setup}: {result.get('status')}")
        return "; ".join(reasons) or "missing figure"


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _ratio_target(
    results: _Results,
    scenario: str,
    field: str,
    unit: str,
    setup_a: str,
    setup_b: str,
    test: Callable[[float], bool],
    goal: str,
) -> Verdict:
    a = results.value(scenario, setup_a, field)
    b = results.value(scenario, setup_b, field)
    target = f"{scenario} {field}: {setup_a} vs {setup_b}"
    if a is None or b is None or b == 0:
        why = results.why_missing(scenario, setup_a, setup_b)
        return Verdict(target, why, None, goal, None, scenario)
    ratio = a / b
    measured = f"{_fmt(a)} vs {_fmt(b)} {unit}"
    return Verdict(target, measured, ratio, goal, test(ratio), scenario)


def _limit_target(
    results: _Results, scenario: str, setup: str, field: str, limit: float
) -> Verdict:
    value = results.peak(scenario, setup, field)
    target = f"{scenario} {field}: {setup}"
    goal = f"< {_fmt(limit)} MB"
    if value is None:
        return Verdict(target, results.why_missing(scenario, setup), None, goal, None, scenario)
    return Verdict(target, f"{_fmt(value)} MB", None, goal, value < limit, scenario)


def _concurrent_target(results: _Results, jobs: int, setup: str) -> Verdict:
    result = results.get("concurrent_interactive", setup)
    target = f"concurrent_interactive: {setup}"
    goal = f"{jobs} jobs, 0 failures, client threads <= {SMALL_THREAD_COUNT}"
    if result is None or result.get("status") != "ok":
        reason = results.why_missing("concurrent_interactive", setup)
        return Verdict(target, reason, None, goal, None, "concurrent_interactive")
    n, failures = result["n"], result["failures"]
    threads = results.peak("concurrent_interactive", setup, "client_threads_max")
    shown = "-" if threads is None else f"{threads:.0f}"
    measured = f"{n} jobs, {failures} failures, {shown} client threads"
    met = n >= jobs and failures == 0 and threads is not None and threads <= SMALL_THREAD_COUNT
    return Verdict(target, measured, None, goal, met, "concurrent_interactive")


#: The setups the "rxxenon + embedded" targets are judged on: ``rxxenon.connect()`` (the
#: embedded server in the client's process, as users start it; with observers on the
#: delivery pool, and on the event loop), and over gRPC to ``rxxenon serve`` in a process
#: of its own. A setup is judged on the scenarios it ran.
EMBEDDED_SETUPS = ("rxxenon-inprocess", "rxxenon-inprocess-onloop", "rxxenon-embedded")

#: The setups the "rxxenon + Java within 1.5x of grpcio + Java" targets are judged on.
ADAPTER_SETUPS = ("rxxenon-java", "rxxenon-java-onloop")


def evaluate_targets(results: Iterable[Result], concurrent_jobs: int = 1000) -> list[Verdict]:
    """Every target of the issue, judged on these results: the "rxxenon + embedded" ones
    once per setup of :data:`EMBEDDED_SETUPS` that ran, then rxxenon + Java vs grpcio + Java."""
    r = _Results(results)
    verdicts = []
    for rx in EMBEDDED_SETUPS:
        verdicts += [
            verdict
            for verdict in _embedded_targets(r, rx, concurrent_jobs)
            if r.get(verdict.scenario, rx) is not None
        ]
    for rx in ADAPTER_SETUPS:
        verdicts += [v for v in _adapter_targets(r, rx) if r.get(v.scenario, rx) is not None]
    return verdicts


def _embedded_targets(r: _Results, rx: str, concurrent_jobs: int) -> list[Verdict]:
    pipes, grpc_java, pyx_java = "pipes", "grpcio-java", "pyxenon-java"
    return [
        _ratio_target(r, "pingpong", "median", "ms", rx, pipes, lambda q: q <= 3, "<= 3"),
        _ratio_target(
            r, "stdout_stream", "throughput_mb_s", "MB/s", rx, pyx_java, lambda q: q >= 10, ">= 10"
        ),
        _ratio_target(
            r, "stdin_stream", "throughput_mb_s", "MB/s", rx, grpc_java, lambda q: q >= 1, ">= 1"
        ),
        _ratio_target(
            r, "file_write", "throughput_mb_s", "MB/s", rx, grpc_java, lambda q: q >= 1, ">= 1"
        ),
        _ratio_target(
            r, "file_read", "throughput_mb_s", "MB/s", rx, grpc_java, lambda q: q >= 2, ">= 2"
        ),
        _limit_target(r, "file_read", rx, "client_peak_rss_mb", RSS_LIMIT_MB),
        _ratio_target(r, "batch_rate", "jobs_s", "jobs/s", rx, pyx_java, lambda q: q >= 2, ">= 2"),
        _ratio_target(
            r, "unary_latency", "median", "us", rx, grpc_java, lambda q: q <= 1.5, "<= 1.5"
        ),
        _limit_target(r, "slow_consumer", rx, "client_peak_rss_mb", RSS_LIMIT_MB),
        _limit_target(r, "slow_consumer", rx, "server_peak_rss_mb", RSS_LIMIT_MB),
        _concurrent_target(r, concurrent_jobs, rx),
    ]


#: Bare ``grpc.aio`` against xenon-grpc: the transport rxxenon is built on, with nothing added.
AIO_BASELINE = "grpcaio-java"


def evaluate_adapter_over_aio(results: Iterable[Result]) -> list[Verdict]:
    """Not one of the issue's targets: rxxenon + Java against bare ``grpc.aio`` + Java, the
    same transport, so the ratio is the adapter's own overhead alone (within 1.5x)."""
    r = _Results(results)
    return [
        v
        for rx in ADAPTER_SETUPS
        for v in _adapter_targets(r, rx, AIO_BASELINE)
        if r.get(v.scenario, rx) is not None and r.get(v.scenario, AIO_BASELINE) is not None
    ]


def _adapter_targets(r: _Results, rx: str, baseline: str = "grpcio-java") -> list[Verdict]:
    verdicts = []
    for scenario in SCENARIOS.values():
        unit = scenario.unit
        if scenario.higher_is_better:
            verdicts.append(
                _ratio_target(
                    r,
                    scenario.name,
                    scenario.metric,
                    unit,
                    rx,
                    baseline,
                    lambda q: q >= 1 / 1.5,
                    ">= 0.67 (within 1.5x)",
                )
            )
        else:
            verdicts.append(
                _ratio_target(
                    r,
                    scenario.name,
                    scenario.metric,
                    unit,
                    rx,
                    baseline,
                    lambda q: q <= 1.5,
                    "<= 1.5",
                )
            )
    return verdicts


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table (readable as plain text too)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def targets_table(verdicts: Iterable[Verdict]) -> str:
    met = {True: "met", False: "NOT met", None: "n/a"}
    rows = ((v.target, v.measured, _fmt(v.ratio), v.goal, met[v.met]) for v in verdicts)
    return _table(("target", "measured", "ratio", "goal", "verdict"), rows)


def _main_figure(result: Result) -> str:
    if result.get("throughput_mb_s") is not None:
        return f"{_fmt(result['throughput_mb_s'])} MB/s"
    if result.get("jobs_s") is not None:
        return f"{_fmt(result['jobs_s'])} jobs/s"
    if result.get("wall_s") is not None:
        return f"{_fmt(result['wall_s'])} s wall, {result.get('failures')} failed"
    return ""


def results_table(results: Iterable[Result]) -> str:
    """One row per result: the figures that matter, the peaks, the status."""
    rows = []
    for r in results:
        latency = ""
        if r.get("median") is not None:
            latency = f"{_fmt(r['median'])} / {_fmt(r['p90'])} {r.get('unit', '')}"
        status = r.get("status", "")
        rows.append(
            (
                r["scenario"],
                r["setup"],
                latency,
                _main_figure(r),
                _fmt(r.get("client_peak_rss_mb")),
                _fmt(r.get("server_peak_rss_mb")),
                str(r.get("client_threads_max") or "-"),
                str(r.get("server_threads_max") or "-"),
                status if len(status) <= 90 else status[:87] + "...",
            )
        )
    header = (
        "scenario",
        "client-server",
        "median / p90",
        "throughput",
        "client RSS MB",
        "server RSS MB",
        "client threads",
        "server threads",
        "status",
    )
    return _table(header, rows)


def _spread(result: Result) -> str:
    """`` [min-max]`` of the primary figure over the runs, when there were several."""
    runs = [v for v in result.get("runs") or () if isinstance(v, int | float)]
    return f" [{_fmt(min(runs))}-{_fmt(max(runs))}]" if len(runs) > 1 else ""


def _cell(result: Result | None) -> str:
    if result is None:
        return ""
    status = str(result.get("status", ""))
    if status.startswith("cannot run"):
        return "cannot run"
    if status != "ok":
        return "failed"
    spread = _spread(result)
    if result.get("throughput_mb_s") is not None:
        return f"{_fmt(result['throughput_mb_s'])}{spread} MB/s"
    if result.get("jobs_s") is not None:
        return f"{_fmt(result['jobs_s'])}{spread} jobs/s, {_fmt(result['median'])} ms"
    if result.get("wall_s") is not None:
        return f"{_fmt(result['wall_s'])}{spread} s, {result.get('failures')} failed"
    median, p90 = _fmt(result.get("median")), _fmt(result.get("p90"))
    return f"{median}{spread} / {p90} {result.get('unit', '')}"


def summary_table(results: Iterable[Result]) -> str:
    """Scenarios down, client-server setups across, the main figure of each in the cells.

    Latencies are ``median / p90``; batch_rate shows jobs/s and the median latency. With
    several runs, ``[min-max]`` of the primary figure over the runs follows it.
    """
    results = list(results)
    setups = list(dict.fromkeys(r["setup"] for r in results))
    scenarios = list(dict.fromkeys(r["scenario"] for r in results))
    by_key = {(r["scenario"], r["setup"]): r for r in results}
    rows = (
        (scenario, *(_cell(by_key.get((scenario, setup))) for setup in setups))
        for scenario in scenarios
    )
    return _table(("scenario", *setups), rows)


def all_tables(results: Sequence[Result], concurrent_jobs: int) -> str:
    """What a run prints at its end: the summary, the results, the issue's targets, and the
    adapter's overhead over bare ``grpc.aio`` when that baseline ran."""
    tables = [
        summary_table(results),
        results_table(results),
        targets_table(evaluate_targets(results, concurrent_jobs=concurrent_jobs)),
    ]
    over_aio = evaluate_adapter_over_aio(results)
    if over_aio:
        tables.append(
            "Not a target of the issue: rxxenon + Java against bare grpc.aio + Java, the same "
            "transport (the adapter's own overhead):\n\n" + targets_table(over_aio)
        )
    return "\n\n".join(tables)
