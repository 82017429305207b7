"""Turning what a handler raises into the gRPC status the real server would send.

Every RPC handler of the embedded server is wrapped by :func:`rpc`, the one place where
errors become statuses: a :class:`~rxxenon._errors.XenonError` aborts the call with its own
code and details (``"<java class>: <adaptor> adaptor: <message>"``), and anything else is a
bug that aborts the call with ``INTERNAL`` and is logged, but never stops the server.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import grpc

from rxxenon._errors import XenonError

__all__ = ["Context", "rpc"]

logger = logging.getLogger("rxxenon.server")

#: The servicer context of any call (request and response types are the handler's concern).
Context = grpc.aio.ServicerContext[Any, Any]

_Self = TypeVar("_Self")
_Request = TypeVar("_Request")
_Result = TypeVar("_Result")


def rpc(
    handler: Callable[[_Self, _Request, Context], Awaitable[_Result]],
) -> Callable[[_Self, _Request, Context], Coroutine[Any, Any, _Result]]:
    """Wrap an RPC handler so that its errors end the call with the right status."""

    @functools.wraps(handler)
    async def wrapper(self: _Self, request: _Request, context: Context) -> _Result:
        try:
            return await handler(self, request, context)
        except XenonError as error:
            await context.abort(*error.status_details())
        except grpc.aio.AbortError:  # the handler aborted the call itself
            raise
        except Exception as error:
            name = getattr(handler, "__name__", "rpc")
            logger.exception("embedded server: %s failed", name)
            await context.abort(
                grpc.StatusCode.INTERNAL,
                f"Internal error in the rxxenon embedded server ({name}): "
                f"{type(error).__name__}: {error}",
            )

    return wrapper
