"""Benchmarks of rxxenon against xenon-grpc, PyXenon, plain grpcio and plain pipes.

Not part of the test run (no ``test_*.py`` files here). Run from the project root::

    python -m tests.benchmarks.run            # everything, about 10 minutes
    python -m tests.benchmarks.run --quick    # small sizes, a smoke run

See ``docs/benchmarks.md`` for what each scenario measures and the latest results.
"""
