"""Errors of finding, starting and stopping the xenon-grpc Java server.

They are raised on this machine, before or around the server, never sent by one; each is also
the builtin exception a caller would expect (``FileNotFoundError``, ``RuntimeError``).
"""

from __future__ import annotations

from rxxenon._errors import XenonError

__all__ = [
    "JavaNotFoundError",
    "XenonGrpcError",
    "XenonGrpcNotFoundError",
    "XenonGrpcStartError",
]


class XenonGrpcError(XenonError):
    """Running the xenon-grpc Java server went wrong (raised locally, not by a server)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.details!r})"


class XenonGrpcNotFoundError(XenonGrpcError, FileNotFoundError):
    """The xenon-grpc jar is not where it was looked for; the message says how to get it."""


class JavaNotFoundError(XenonGrpcError, FileNotFoundError):
    """No Java runtime was found; the message says how to install one."""


class XenonGrpcStartError(XenonGrpcError, RuntimeError):
    """The server process exited, or did not answer a gRPC call in time, while starting.

    The message ends with the last lines the process printed.
    """
