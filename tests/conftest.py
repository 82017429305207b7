"""The conformance suite's servers, the divergence table, and the per-server summary.

* ``xenon_server`` is parametrised with ``embedded`` and ``xenon-grpc`` (see
  ``tests/servers.py``) for every test that uses it, directly or through ``xenon``,
  ``scheduler`` or the raw stubs of ``tests/server/``, unless the test is marked
  ``embedded_only``; tests of the ``xenon`` connection also run ``in-process``. Each server
  starts once per session.
* ``tests/divergences.py`` lists the intended divergences; each runs as a strict xfail against
  the server that differs. An entry naming no test of that server stops the run.
* The terminal summary ends with one line counting the outcomes per server. With ``CI`` set,
  a skipped ``xenon-grpc`` test fails the run: CI installs Java and the jar.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import rxxenon
from tests.divergences import DIVERGENCES, Divergence, divergence_for
from tests.servers import EMBEDDED, SERVERS, XENON_GRPC, ServerPool, ServerUnderTest, server_params

PYTHON = sys.executable

#: The outcomes counted in the summary line, in its order (the others only when they happen).
ALWAYS_SHOWN = ("passed", "failed", "xfailed", "skipped")

#: The server of each test run against one, by node id.
_SERVER_OF: dict[str, str] = {}
#: The outcomes per server, counted as pytest counts them (``passed``, ``xfailed``, ...).
_OUTCOMES: dict[str, Counter[str]] = {}
_config: pytest.Config | None = None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "embedded_only: about the embedded server itself or the client's own machinery; runs "
        "once, against the embedded server, not against xenon-grpc",
    )
    global _config
    _config = config
    _SERVER_OF.clear()
    _OUTCOMES.clear()
    _OUTCOMES.update({server: Counter() for server in SERVERS})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "xenon_server" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("embedded_only") is not None:
        return
    in_process = "xenon" in metafunc.fixturenames
    metafunc.parametrize("xenon_server", server_params(in_process), indirect=True, scope="session")


# Fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def server_pool() -> Iterator[ServerPool]:
    """The session's servers, started when first needed, stopped at the end."""
    pool = ServerPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session")
def xenon_server(request: pytest.FixtureRequest, server_pool: ServerPool) -> ServerUnderTest:
    """The server under test: each in turn, or the embedded one for ``embedded_only`` tests."""
    return server_pool.server(getattr(request, "param", EMBEDDED))


@pytest.fixture(scope="session")
def xenon(xenon_server: ServerUnderTest, server_pool: ServerPool) -> rxxenon.Connection:
    """An rxxenon connection to the server under test (shared by the session)."""
    return server_pool.connection(xenon_server.kind)


@pytest.fixture
def scheduler(xenon: rxxenon.Connection) -> Iterator[rxxenon.Scheduler]:
    """A fresh local scheduler; after the test its jobs are cancelled and it is closed.

    (Closing a scheduler does not kill its jobs, so a test that fails midway would leave them
    running on the session's server.)
    """
    with xenon.local_scheduler() as scheduler:
        yield scheduler
        for job in scheduler.get_jobs():
            with contextlib.suppress(rxxenon.NoSuchJobError):
                scheduler.cancel_job(job)


def python_job(
    code: str, *args: str, queue: str = "unlimited", **fields: object
) -> rxxenon.JobDescription:
    """A job description running ``python -c code args...`` (flush to be seen early)."""
    return rxxenon.JobDescription(
        executable=PYTHON,
        arguments=["-c", code, *args],
        queue_name=queue,
        **fields,  # type: ignore[arg-type]
    )


# The divergence table -----------------------------------------------------------------------


def server_case(item: pytest.Item) -> tuple[str, str, str] | None:
    """(server, ``path::name``, the other parameters' id) of a test run against a server;
    None for a test that is not parametrised over the servers."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "xenon_server" not in callspec.params:
        return None
    server: str = callspec.params["xenon_server"]
    ident: str = callspec.id
    if ident == server:
        others = ""
    elif ident.startswith(f"{server}-"):
        others = ident.removeprefix(f"{server}-")
    elif ident.endswith(f"-{server}"):
        others = ident.removesuffix(f"-{server}")
    else:
        others = ident.replace(f"-{server}-", "-", 1)
    return server, item.nodeid.partition("[")[0], others


def unknown_entries(items: list[pytest.Item]) -> list[Divergence]:
    """The entries of the table that name no collected test of their server, among those
    whose test file was collected."""
    files = {item.nodeid.partition("::")[0] for item in items}
    named: set[tuple[str, str]] = set()
    for item in items:
        case = server_case(item)
        if case is not None:
            server, test, others = case
            named.add((server, test))
            if others:
                named.add((server, f"{test}[{others}]"))
    return [
        entry
        for entry in DIVERGENCES
        if entry.test.partition("::")[0] in files and (entry.server, entry.test) not in named
    ]


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect anything: the table sees every test
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unknown = unknown_entries(items)
    if unknown:
        listed = "\n".join(f"  {entry.test} ({entry.server})" for entry in unknown)
        raise pytest.UsageError(
            "tests/divergences.py names tests that do not run against the server it names:\n"
            + listed
        )
    for item in items:
        case = server_case(item)
        if case is None:
            continue
        server, test, others = case
        _SERVER_OF[item.nodeid] = server
        entry = divergence_for(test, others, server)
        if entry is not None:
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"{server}: {entry.reason}"))


# The summary --------------------------------------------------------------------------------


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    server = _SERVER_OF.get(report.nodeid)
    if server is None or _config is None:
        return
    category, _, _ = _config.hook.pytest_report_teststatus(report=report, config=_config)
    if category:
        _OUTCOMES[server][category] += 1


def summary_line(outcomes: dict[str, Counter[str]]) -> str:
    """``conformance: embedded 412 passed, 0 failed, 0 xfailed, 3 skipped; xenon-grpc ...``."""
    parts = []
    for server in (server for server in SERVERS if server in outcomes):
        counts = outcomes[server]
        shown = list(ALWAYS_SHOWN) + sorted(set(counts) - set(ALWAYS_SHOWN))
        parts.append(f"{server} " + ", ".join(f"{counts[name]} {name}" for name in shown))
    return "conformance: " + "; ".join(parts)


def ci_problem(outcomes: dict[str, Counter[str]]) -> str | None:
    """What breaks the CI rule (no xenon-grpc test skipped when ``CI`` is set), or None."""
    if not os.environ.get("CI"):
        return None
    skipped = outcomes[XENON_GRPC]["skipped"]
    if skipped:
        return (
            f"CI is set but {skipped} {XENON_GRPC} tests were skipped: CI must run every test "
            "against the Java server (.ci/install-java-and-jar.sh installs Java and the jar)"
        )
    return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if ci_problem(_OUTCOMES) is not None and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not any(_OUTCOMES.values()):  # nothing ran against a server (--collect-only, ...)
        return
    terminalreporter.write_line(summary_line(_OUTCOMES))
    problem = ci_problem(_OUTCOMES)
    if problem is not None:
        terminalreporter.write_line(f"ERROR: {problem}", red=True, bold=True)
