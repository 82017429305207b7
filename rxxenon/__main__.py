"""The ``rxxenon`` command line (also ``python -m rxxenon``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rxxenon", description="Reactive Xenon tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the embedded Xenon gRPC server (local scheduler) until SIGINT or SIGTERM",
        description=(
            "Run rxxenon's embedded Xenon gRPC server. It prints 'listening on HOST:PORT' once "
            "it accepts calls, and on SIGINT or SIGTERM stops, killing the jobs it started."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port to bind (default 0: a free one)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    options = _parser().parse_args(argv)
    if options.command == "serve":
        from rxxenon.server import run_standalone

        return run_standalone(options.host, options.port)
    raise AssertionError(options.command)  # argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
