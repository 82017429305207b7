"""What schedulers and file systems have in common: a server-side object named by an id."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Self

from rxxenon._credentials import Credential, credential_from_proto
from rxxenon._errors import NotFoundError

if TYPE_CHECKING:
    from rxxenon._connection import Connection

__all__ = ["ServerObject"]


class ServerObject:
    """An object a Xenon server keeps open until it is closed, and the calls all of them have.

    Subclasses name their gRPC service (``_service``: an attribute of the connection's
    stubs), the message type of their handle, and the error a closed handle gives.
    A context manager: leaving the block closes the object on the server.
    """

    _service: ClassVar[str]
    _handle_type: ClassVar[Callable[..., Any]]
    _closed_error: ClassVar[type[NotFoundError]]

    def __init__(self, connection: Connection, object_id: str) -> None:
        self.connection = connection
        self.id = object_id
        self._handle = type(self)._handle_type(id=object_id)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and getattr(other, "id", None) == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _method(self, name: str) -> Callable[[], Any]:
        stubs = getattr(self.connection.stubs, self._service)
        return lambda: getattr(stubs, name)

    def _call(self, name: str, request: Any) -> Any:
        return self.connection.call(self._service, name, request)

    def get_adaptor_name(self) -> str:
        """The adaptor it was created with (``local``, ``slurm``, ``file``, ``sftp``...)."""
        return str(self._call("getAdaptorName", self._handle).name)

    def get_location(self) -> str:
        """The location it was created with."""
        return str(self._call("getLocation", self._handle).location)

    def get_properties(self) -> dict[str, str]:
        """The properties it was created with."""
        return dict(self._call("getProperties", self._handle).properties)

    def get_credential(self) -> Credential | None:
        """The credential the server uses for it."""
        return credential_from_proto(self._call("getCredential", self._handle))

    def is_open(self) -> bool:
        """Whether it is open (a closed one raises its NoSuch...Error instead)."""
        return bool(self._call("isOpen", self._handle).value)

    def close(self) -> None:
        """Close it on the server. Idempotent here (closing a closed one is not an error)."""
        with contextlib.suppress(self._closed_error):
            self._call("close", self._handle)
