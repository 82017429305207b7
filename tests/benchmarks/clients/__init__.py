"""The benchmark clients: one module per client library, each run as its own process.

Every module here is started as ``python -m tests.benchmarks.clients.<name>`` by the
orchestrator (``tests.benchmarks.run``), runs one scenario and prints one result line
(see :mod:`tests.benchmarks.clients._common`). ``_common`` and ``pyxenon_client`` use the
standard library only besides their client library, because PyXenon runs in a virtualenv
of its own that has neither rxxenon nor reactivex.
"""
