"""Several runs of one (scenario, client-server) combined into one result line.

The line is the run whose primary figure is the median of the runs (for an even count, the
worse of the two middle ones), so all its fields belong to one real measurement. Added:

* ``runs``: the primary figure of every run, in the order run;
* ``*_all_runs``: the highest peak RSS and thread counts over all runs (the memory and
  thread targets are judged on these);
* a ``status`` that is ``ok`` only when every run was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.benchmarks.scenarios import Scenario

__all__ = ["PEAK_FIELDS", "combine"]

Result = dict[str, Any]

#: Fields whose maximum over all runs is kept as ``<field>_all_runs``.
PEAK_FIELDS = (
    "client_peak_rss_mb",
    "server_peak_rss_mb",
    "client_threads_max",
    "server_threads_max",
)


def _max(values: Sequence[Any]) -> float | None:
    numbers = [v for v in values if isinstance(v, int | float)]
    return max(numbers) if numbers else None


def combine(scenario: Scenario, runs: Sequence[Result]) -> Result:
    """One result for ``runs`` (at least one) of the same scenario and setup."""
    ok = [r for r in runs if r.get("status") == "ok" and r.get(scenario.metric) is not None]
    if ok:
        # Best first; the middle one (the worse middle one for an even count) is reported.
        ranked = sorted(ok, key=lambda r: r[scenario.metric], reverse=scenario.higher_is_better)
        result = dict(ranked[len(ranked) // 2])
    else:
        result = dict(runs[0])
    result["runs"] = [r.get(scenario.metric) for r in runs]
    for field in PEAK_FIELDS:
        result[f"{field}_all_runs"] = _max([r.get(field) for r in runs])
    failed = [r for r in runs if r.get("status") != "ok"]
    if ok and failed:
        result["status"] = f"failed in {len(failed)} of {len(runs)} runs: {failed[0].get('status')}"
    return result
