"""Finding, starting and stopping the real xenon-grpc Java server.

rxxenon reaches SSH hosts and Slurm, Grid Engine, Torque and ``at`` schedulers through
xenon-grpc 3.0.1 (Xenon library 3.0.4), a Java program. This package finds its jar and a Java
runtime, runs it as a child process, and gives a client what it needs to connect::

    from rxxenon.xenon_grpc import XenonGrpcServer

    with (
        XenonGrpcServer(tls=True) as server,
        rxxenon.connect(
            server.address,
            channel_credentials=server.channel_credentials(),
            options=server.channel_options(),
        ) as xenon,
    ):
        ...

* :func:`find_jar`, :func:`find_java`: where the jar and ``java`` are (``pip install
  'rxxenon[xenon-grpc]'`` or ``RXXENON_XENON_GRPC_JAR``; ``JAVA_HOME`` or ``PATH``).
* :class:`XenonGrpcServer`: the server process: a kernel-chosen port, readiness by a gRPC
  call, output into ``logging`` (logger ``rxxenon.xenon_grpc``), stopped with its local jobs.
* :func:`generate_certificates`, :func:`client_credentials`, :class:`Certificates`:
  mutual TLS with one self-signed ECDSA certificate, also for a server started elsewhere.

``docs/xenon-grpc.md`` has the details and the server's limits.
"""

from __future__ import annotations

from rxxenon.xenon_grpc._errors import (
    JavaNotFoundError,
    XenonGrpcError,
    XenonGrpcNotFoundError,
    XenonGrpcStartError,
)
from rxxenon.xenon_grpc._locate import JAR_ENV, find_jar, find_java, jar_search_dirs
from rxxenon.xenon_grpc._server import XenonGrpcServer
from rxxenon.xenon_grpc._tls import (
    TLS_CHANNEL_OPTIONS,
    Certificates,
    client_credentials,
    ensure_certificates,
    generate_certificates,
)

__all__ = [
    "JAR_ENV",
    "TLS_CHANNEL_OPTIONS",
    "Certificates",
    "JavaNotFoundError",
    "XenonGrpcError",
    "XenonGrpcNotFoundError",
    "XenonGrpcServer",
    "XenonGrpcStartError",
    "client_credentials",
    "ensure_certificates",
    "find_jar",
    "find_java",
    "generate_certificates",
    "jar_search_dirs",
]
