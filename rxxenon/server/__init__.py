"""rxxenon's embedded Xenon gRPC server: local jobs and files with no Java.

It speaks the Xenon gRPC protocol and behaves like the real xenon-grpc 3.0.1 server for the
``local`` scheduler adaptor (ids, queues, states, exit codes, errors) and the ``file``
file-system adaptor (paths, attributes, streams, copies, errors), departing from it only
where that server is broken; ``docs/embedded-server.md`` lists every departure.

* :class:`EmbeddedServer` runs it in-process, on an event-loop thread of its own.
* :func:`run_standalone` runs it in the foreground (``rxxenon serve``).
"""

from __future__ import annotations

from rxxenon.server._server import EmbeddedServer
from rxxenon.server._standalone import run_standalone

__all__ = ["EmbeddedServer", "run_standalone"]
