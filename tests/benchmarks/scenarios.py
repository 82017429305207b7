"""The scenarios and the (client, server) setups the benchmark runs, with their sizes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tests.benchmarks.clients._common import MB, Params

__all__ = [
    "DEFAULT_SETUPS",
    "SCENARIOS",
    "SETUPS",
    "WARM_UP_BY_SCENARIO",
    "WARM_UP_SCENARIO",
    "WARM_UP_TIMEOUT",
    "Scenario",
    "Setup",
    "params_for",
    "timeout_for",
    "warm_up_params",
]


@dataclass(frozen=True)
class Scenario:
    """One scenario: its primary figure (for the ratios) and how long a client may take.

    Attributes:
        metric: the result field compared between setups.
        unit: the unit of ``metric``.
        higher_is_better: whether a larger ``metric`` is better (throughput) or worse.
        timeout: seconds one client process may run in a full run.
    """

    name: str
    metric: str
    unit: str
    higher_is_better: bool
    timeout: float
    description: str


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "pingpong",
            "median",
            "ms",
            False,
            120,
            "500 lines one at a time through a python line echo (queue multi); "
            "round trip, 20 warm-up lines excluded",
        ),
        Scenario(
            "stdout_stream",
            "throughput_mb_s",
            "MB/s",
            True,
            300,
            "a job writes 200 MB to stdout (head -c), consumed completely",
        ),
        Scenario(
            "slow_consumer",
            "throughput_mb_s",
            "MB/s",
            True,
            300,
            "the same 200 MB, the subscriber sleeping 1 ms per 64 KiB received",
        ),
        Scenario(
            "stdin_stream",
            "throughput_mb_s",
            "MB/s",
            True,
            300,
            "100 MB in 1 MiB pieces into a job's stdin (wc -c), count checked",
        ),
        Scenario(
            "file_write",
            "throughput_mb_s",
            "MB/s",
            True,
            180,
            "100 MB in 1 MiB pieces written through the file-system service",
        ),
        Scenario(
            "file_read",
            "throughput_mb_s",
            "MB/s",
            True,
            180,
            "a 100 MB file read through the file-system service",
        ),
        Scenario(
            "batch_rate",
            "jobs_s",
            "jobs/s",
            True,
            180,
            "200 batch jobs of `true` on queue multi; submit to done (status polled)",
        ),
        Scenario(
            "concurrent_interactive",
            "wall_s",
            "s",
            False,
            300,
            "1,000 interactive cat jobs at once (queue unlimited), 10 lines each",
        ),
        Scenario(
            "unary_latency",
            "median",
            "us",
            False,
            120,
            "1,000 getAdaptorNames calls after 50 warm-up calls",
        ),
    )
}


@dataclass(frozen=True)
class Setup:
    """A client library run against a kind of server.

    Attributes:
        module: the client module in ``tests.benchmarks.clients``.
        client: the client's name in the results.
        server: ``embedded`` (``rxxenon serve``, over gRPC), ``in-process`` (the embedded
            server that ``rxxenon.connect()`` starts in the client's process), ``java`` or
            ``none``.
        params: scenario parameters this setup changes (``delivery_threads``...).
        scenarios: the only scenarios it runs (None: all).
    """

    name: str
    client: str
    module: str
    server: str
    params: tuple[tuple[str, object], ...] = ()
    scenarios: tuple[str, ...] | None = None

    def runs(self, scenario: str) -> bool:
        """Whether this setup runs ``scenario``."""
        return self.scenarios is None or scenario in self.scenarios


SETUPS: dict[str, Setup] = {
    s.name: s
    for s in (
        Setup("rxxenon-inprocess", "rxxenon", "rxxenon_client", "in-process"),
        # Observers called on the event loop (connect(delivery_threads=0)): for latency.
        Setup(
            "rxxenon-inprocess-onloop",
            "rxxenon",
            "rxxenon_client",
            "in-process",
            params=(("delivery_threads", 0),),
            scenarios=("pingpong", "stdout_stream", "unary_latency"),
        ),
        Setup("rxxenon-embedded", "rxxenon", "rxxenon_client", "embedded"),
        Setup("rxxenon-java", "rxxenon", "rxxenon_client", "java"),
        Setup(
            "rxxenon-java-onloop",
            "rxxenon",
            "rxxenon_client",
            "java",
            params=(("delivery_threads", 0),),
            scenarios=("pingpong", "stdout_stream", "unary_latency"),
        ),
        Setup("grpcio-java", "grpcio", "grpcio_client", "java"),
        # Bare grpc.aio: the transport rxxenon is built on, to tell its cost from rxxenon's.
        Setup(
            "grpcaio-java",
            "grpcaio",
            "grpcaio_client",
            "java",
            scenarios=("pingpong", "stdout_stream", "unary_latency"),
        ),
        Setup(
            "grpcaio-embedded",
            "grpcaio",
            "grpcaio_client",
            "embedded",
            scenarios=("pingpong", "stdout_stream", "unary_latency"),
        ),
        Setup("grpcio-embedded", "grpcio", "grpcio_client", "embedded"),
        Setup("pyxenon-java", "pyxenon", "pyxenon_client", "java"),
        Setup("pyxenon-embedded", "pyxenon", "pyxenon_client", "embedded"),
        Setup("pipes", "pipes", "pipes_client", "none"),
    )
}

#: What a run without ``--clients`` runs (pyxenon-embedded only on request).
DEFAULT_SETUPS = (
    "rxxenon-inprocess",
    "rxxenon-inprocess-onloop",
    "rxxenon-embedded",
    "rxxenon-java",
    "rxxenon-java-onloop",
    "grpcio-java",
    "grpcaio-java",
    "grpcio-embedded",
    "pyxenon-java",
    "pipes",
)

#: ``--quick``: small sizes, for a smoke run of the benchmark itself.
QUICK = {
    "pingpong_lines": 50,
    "pingpong_warmup": 5,
    "stream_bytes": 5 * MB,
    "stdin_bytes": 5 * MB,
    "file_bytes": 5 * MB,
    "batch_jobs": 20,
    "concurrent_jobs": 20,
    "unary_calls": 100,
    "unary_warmup": 10,
    "timeout": 30.0,
}

#: ``--quick``: seconds one client process may run.
QUICK_TIMEOUT = 60.0

#: Before each measurement the fresh server is warmed up by the grpcio client running the
#: same scenario at these sizes (a JVM's JIT needs a few thousand calls: a cold xenon-grpc
#: answers ping-pong in ~0.9 ms, a warm one in ~0.3 ms). ``--quick`` uses its own sizes.
WARM_UP = {
    "pingpong_lines": 2000,
    "pingpong_warmup": 0,
    "stream_bytes": 20 * MB,
    "stdin_bytes": 20 * MB,
    "file_bytes": 20 * MB,
    "batch_jobs": 50,
    "concurrent_jobs": 50,
    "unary_calls": 2000,
    "unary_warmup": 0,
}

#: Sizes of some scenarios' warm-ups that differ from :data:`WARM_UP`. stdout_stream: a fresh
#: xenon-grpc spends 30 to 65 µs of CPU per 1 KiB message it streams for its first ~150 MB,
#: and 6 to 10 µs from then on (measured over consecutive 20 MB jobs on one server, see
#: docs/benchmarks.md); a measurement that starts before that point crosses it half-way,
#: and its clients' rates swing by 2x from run to run. 300 MB puts it past the point.
WARM_UP_BY_SCENARIO = {"stdout_stream": {"stream_bytes": 300 * MB}}

#: The scenario that warms the server up for another (slow_consumer: no need to be slow).
WARM_UP_SCENARIO = {"slow_consumer": "stdout_stream"}

#: Seconds the warm-up may take.
WARM_UP_TIMEOUT = 120.0


def params_for(quick: bool, **fields: object) -> Params:
    """The scenario parameters of a full run (or of ``--quick``), with ``fields`` set."""
    params = Params()
    if quick:
        params = dataclasses.replace(params, **QUICK)  # type: ignore[arg-type]
    return dataclasses.replace(params, **fields)  # type: ignore[arg-type]


def warm_up_params(params: Params, quick: bool, scenario: str) -> Params:
    """The parameters of the server warm-up before ``scenario`` is measured with ``params``."""
    if quick:
        return params
    sizes = {**WARM_UP, **WARM_UP_BY_SCENARIO.get(scenario, {})}
    return dataclasses.replace(params, **sizes)  # type: ignore[arg-type]


def timeout_for(scenario: Scenario, quick: bool) -> float:
    """Seconds a client process may run this scenario."""
    return QUICK_TIMEOUT if quick else scenario.timeout
