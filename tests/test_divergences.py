"""The divergence table (tests/divergences.py), its twin in the docs, and the conftest hooks
that apply it and count the outcomes per server."""

from __future__ import annotations

import importlib
import re
from collections import Counter
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from tests.conftest import ci_problem, server_case, summary_line, unknown_entries
from tests.divergences import DIVERGENCES, Divergence, divergence_for
from tests.servers import EMBEDDED, SERVERS, XENON_GRPC, server_params

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "embedded-server.md"
NODE = re.compile(r"`(tests/[\w/]+\.py::\w+(?:\[[^\]]*\])?)`( \*\(embedded only\)\*)?")


def _module(test: str) -> ModuleType:
    path = test.partition("::")[0]
    return importlib.import_module(path.removesuffix(".py").replace("/", "."))


def _function(test: str) -> Any:
    name = test.partition("::")[2].partition("[")[0]
    return getattr(_module(test), name, None)


def _marks(thing: Any) -> set[str]:
    marks = getattr(thing, "pytestmark", [])
    return {mark.name for mark in (marks if isinstance(marks, list) else [marks])}


def _embedded_only(test: str) -> bool:
    return "embedded_only" in _marks(_function(test)) | _marks(_module(test))


def _docs_rows() -> dict[str, bool]:
    """Every test the divergence table of the docs names: whether it says "embedded only"."""
    text = DOCS.read_text()
    section = text[text.index("## Divergences from xenon-grpc") :]
    section = section[: section.index("\n## ", 1)]
    rows = [line for line in section.splitlines() if re.match(r"\| \d+ \|", line)]
    assert rows, "no table rows found"
    named: dict[str, bool] = {}
    for row in rows:
        for test, embedded in NODE.findall(row.rsplit("|", 2)[1]):
            named[test] = bool(embedded)
    return named


# The table itself ---------------------------------------------------------------------------


@pytest.mark.parametrize("entry", DIVERGENCES, ids=lambda entry: entry.test.rpartition("/")[2])
def test_every_entry_names_a_test_that_runs_against_both_servers(entry: Divergence) -> None:
    assert entry.server in SERVERS
    assert callable(_function(entry.test)), f"{entry.test} does not exist"
    assert not _embedded_only(entry.test), f"{entry.test} does not run against {entry.server}"
    assert entry.reason


def test_no_entry_twice() -> None:
    pairs = Counter((entry.test, entry.server) for entry in DIVERGENCES)
    assert [pair for pair, count in pairs.items() if count > 1] == []


def test_an_unknown_server_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown server"):
        Divergence("tests/test_x.py::test_y", "jython", "no")


def test_the_docs_name_the_same_divergences() -> None:
    documented = _docs_rows()
    listed = {entry.test for entry in DIVERGENCES}
    assert sorted(listed - set(documented)) == [], "in tests/divergences.py, not in the docs"
    for test, embedded_only in documented.items():
        assert callable(_function(test)), f"the docs name {test}, which does not exist"
        if test in listed:
            assert not embedded_only, f"{test} is in tests/divergences.py: it runs on both"
        else:
            assert embedded_only, f"{test}: in neither tests/divergences.py nor embedded only"
            assert _embedded_only(test), f"{test} is not marked embedded_only"


def test_an_entry_applies_to_its_test_and_server_only() -> None:
    entry = DIVERGENCES[0]
    assert divergence_for(entry.test, "", entry.server) is entry
    assert (
        divergence_for(entry.test, "", EMBEDDED if entry.server != EMBEDDED else XENON_GRPC) is None
    )
    assert divergence_for(entry.test + "_not", "", entry.server) is None
    adaptors = (
        "tests/server/test_adaptors.py::test_xenon_grpc_only_adaptors_are_unknown_with_a_hint"
    )
    assert divergence_for(adaptors, "ssh", XENON_GRPC) is not None  # named as a whole


# The hooks ----------------------------------------------------------------------------------


def _item(nodeid: str, params: dict[str, str] | None = None, ident: str = "") -> Any:
    callspec = None if params is None else SimpleNamespace(params=params, id=ident)
    return SimpleNamespace(nodeid=nodeid, callspec=callspec)


@pytest.mark.parametrize(
    ("ident", "others"),
    [
        ("xenon-grpc", ""),
        ("xenon-grpc-ssh", "ssh"),
        ("ssh-xenon-grpc", "ssh"),
        ("a-xenon-grpc-b", "a-b"),
    ],
)
def test_the_server_parameter_is_told_from_the_others(ident: str, others: str) -> None:
    item = _item(f"tests/t.py::test_x[{ident}]", {"xenon_server": XENON_GRPC}, ident)
    assert server_case(item) == (XENON_GRPC, "tests/t.py::test_x", others)


def test_tests_not_run_against_a_server_have_no_case() -> None:
    assert server_case(_item("tests/t.py::test_x")) is None
    assert server_case(_item("tests/t.py::test_x[1]", {"n": "1"}, "1")) is None


def test_entries_naming_no_collected_test_are_found() -> None:
    entry = DIVERGENCES[0]
    path = entry.test.partition("::")[0]
    other = _item(
        f"{path}::test_something_else[xenon-grpc]", {"xenon_server": XENON_GRPC}, "xenon-grpc"
    )
    assert entry in unknown_entries([other])  # its file was collected, the test was not
    named = _item(f"{entry.test}[{entry.server}]", {"xenon_server": entry.server}, entry.server)
    assert entry not in unknown_entries([named, other])
    assert unknown_entries([]) == []  # nothing of its file collected: not checked here


def test_the_xenon_grpc_parameter_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.servers.xenon_grpc_missing", lambda: "needs Java: none here")
    embedded, java = server_params()
    assert (embedded.id, embedded.marks) == (EMBEDDED, ())
    assert java.id == XENON_GRPC
    (mark,) = java.marks
    assert (mark.name, mark.kwargs) == ("skip", {"reason": "needs Java: none here"})


def test_the_summary_line_counts_per_server() -> None:
    outcomes = {
        EMBEDDED: Counter(passed=412, skipped=3),
        XENON_GRPC: Counter(passed=398, xfailed=14, error=1),
    }
    assert summary_line(outcomes) == (
        "conformance: embedded 412 passed, 0 failed, 0 xfailed, 3 skipped; "
        "xenon-grpc 398 passed, 0 failed, 14 xfailed, 0 skipped, 1 error"
    )


def test_ci_allows_no_skipped_xenon_grpc_test(monkeypatch: pytest.MonkeyPatch) -> None:
    skipped = {EMBEDDED: Counter(passed=1), XENON_GRPC: Counter(skipped=2)}
    ran = {EMBEDDED: Counter(passed=1), XENON_GRPC: Counter(passed=1, xfailed=1)}
    monkeypatch.delenv("CI", raising=False)
    assert ci_problem(skipped) is None
    monkeypatch.setenv("CI", "true")
    problem = ci_problem(skipped)
    assert problem is not None
    assert "2 xenon-grpc tests were skipped" in problem
    assert ci_problem(ran) is None
