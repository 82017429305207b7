"""rxxenon's errors, and the one table that maps them to and from gRPC statuses.

The tree::

    XenonError                         every error rxxenon raises or emits
    ├── CancelledError                 CANCELLED
    ├── UnknownError                   UNKNOWN
    ├── InvalidArgumentError           INVALID_ARGUMENT
    │   └── IllegalArgumentError       java.lang.IllegalArgumentException
    ├── DeadlineExceededError          DEADLINE_EXCEEDED (also client waits that time out)
    ├── NotFoundError                  NOT_FOUND
    │   ├── NoSuchSchedulerError       "Scheduler with id: <id>" (no class prefix)
    │   ├── NoSuchFileSystemError      "File system with id: <id>" (no class prefix)
    │   ├── UnknownAdaptorError        ...UnknownAdaptorException
    │   ├── UnknownPropertyError       ...UnknownPropertyException
    │   ├── NoSuchQueueError           ...schedulers.NoSuchQueueException
    │   └── NoSuchPathError            ...filesystems.NoSuchPathException
    ├── AlreadyExistsError             ALREADY_EXISTS
    │   └── PathAlreadyExistsError     ...filesystems.PathAlreadyExistsException
    ├── PermissionDeniedError          PERMISSION_DENIED
    ├── ResourceExhaustedError         RESOURCE_EXHAUSTED
    ├── FailedPreconditionError        FAILED_PRECONDITION
    │   ├── InvalidPropertyError       ...InvalidPropertyException
    │   ├── InvalidLocationError       ...InvalidLocationException
    │   ├── InvalidCredentialError     ...InvalidCredentialException
    │   ├── InvalidJobDescriptionError ...schedulers.InvalidJobDescriptionException
    │   └── InvalidPathError           ...filesystems.InvalidPathException
    ├── AbortedError                   ABORTED
    ├── OutOfRangeError                OUT_OF_RANGE
    ├── UnimplementedError             UNIMPLEMENTED
    ├── InternalError                  INTERNAL
    │   ├── AdaptorError               ...XenonException (the plain one: an adaptor failed)
    │   ├── NoSuchJobError             ...schedulers.NoSuchJobException
    │   ├── NoSuchCopyError            ...filesystems.NoSuchCopyException
    │   └── DirectoryNotEmptyError     ...filesystems.DirectoryNotEmptyException
    ├── UnavailableError               UNAVAILABLE (server gone, connection lost)
    ├── DataLossError                  DATA_LOSS
    ├── UnauthenticatedError           UNAUTHENTICATED
    ├── LoopThreadError                a blocking call made on the connection's event-loop thread
    └── StdinBufferFullError           stdin pushed on the event-loop thread, its buffer full

A Xenon server reports a failure as a gRPC status code plus a details string
``"<java.class.Name>: <adaptor> adaptor: <message>"``. :func:`error_from_status` turns that
into the most specific class above (the leaf named after the Java class, else the class of the
status code); the embedded server raises the same classes and :meth:`XenonError.status_details`
turns them back into the same code and string. One table (``_LEAVES``) serves both directions.
"""

from __future__ import annotations

from typing import ClassVar, Self

import grpc

__all__ = [
    "AbortedError",
    "AdaptorError",
    "AlreadyExistsError",
    "CancelledError",
    "DataLossError",
    "DeadlineExceededError",
    "DirectoryNotEmptyError",
    "FailedPreconditionError",
    "IllegalArgumentError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidCredentialError",
    "InvalidJobDescriptionError",
    "InvalidLocationError",
    "InvalidPathError",
    "InvalidPropertyError",
    "LoopThreadError",
    "NoSuchCopyError",
    "NoSuchFileSystemError",
    "NoSuchJobError",
    "NoSuchPathError",
    "NoSuchQueueError",
    "NoSuchSchedulerError",
    "NotFoundError",
    "OutOfRangeError",
    "PathAlreadyExistsError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "StdinBufferFullError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "UnknownAdaptorError",
    "UnknownError",
    "UnknownPropertyError",
    "XenonError",
    "error_from_rpc_error",
    "error_from_status",
]

_XENON = "nl.esciencecenter.xenon."


class XenonError(Exception):
    """Root of every rxxenon error.

    Attributes:
        code: the gRPC status code the error travels with.
        details: the status details string exactly as the server sent it (or will send it).
        java_class: the fully qualified Java exception class named in ``details``, if any.
        message: ``details`` without the Java class prefix.
    """

    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN
    #: Java exception class this error stands for (leaves only).
    java_class_name: ClassVar[str | None] = None

    def __init__(self, details: str, *, code: grpc.StatusCode | None = None) -> None:
        super().__init__(details)
        self.details = details
        if code is not None:
            self.code = code  # type: ignore[misc]  # instance override of the class default
        self.java_class, self.message = _split_details(details)

    @classmethod
    def from_adaptor(cls, adaptor: str, message: str) -> Self:
        """The error as a Xenon server words it: ``"<class>: <adaptor> adaptor: <message>"``."""
        return cls.from_message(f"{adaptor} adaptor: {message}")

    @classmethod
    def from_message(cls, message: str) -> Self:
        """The error with its Java class prefix and no adaptor: ``"<class>: <message>"``."""
        prefix = f"{cls.java_class_name}: " if cls.java_class_name else ""
        return cls(f"{prefix}{message}")

    def status_details(self) -> tuple[grpc.StatusCode, str]:
        """The gRPC status code and details string that carry this error on the wire."""
        return self.code, self.details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.details!r}, code={self.code.name})"


def _split_details(details: str) -> tuple[str | None, str]:
    head, sep, rest = details.partition(": ")
    if sep and "." in head and " " not in head:
        return head, rest
    return None, details


class CancelledError(XenonError):
    """The call was cancelled (CANCELLED)."""

    code = grpc.StatusCode.CANCELLED


class UnknownError(XenonError):
    """The server failed without saying why (UNKNOWN)."""

    code = grpc.StatusCode.UNKNOWN


class InvalidArgumentError(XenonError):
    """A request field has a value the server rejects (INVALID_ARGUMENT)."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class IllegalArgumentError(InvalidArgumentError):
    """java.lang.IllegalArgumentException: an empty argument or job id, for example."""

    java_class_name = "java.lang.IllegalArgumentException"


class DeadlineExceededError(XenonError):
    """A deadline passed before the call or the wait finished (DEADLINE_EXCEEDED)."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFoundError(XenonError):
    """Something named in the request does not exist (NOT_FOUND)."""

    code = grpc.StatusCode.NOT_FOUND


class NoSuchSchedulerError(NotFoundError):
    """The scheduler handle is unknown or closed (``"Scheduler with id: <id>"``)."""

    details_prefix: ClassVar[str] = "Scheduler with id: "


class NoSuchFileSystemError(NotFoundError):
    """The file-system handle is unknown or closed (``"File system with id: <id>"``)."""

    details_prefix: ClassVar[str] = "File system with id: "


class UnknownAdaptorError(NotFoundError):
    """No adaptor has that name."""

    java_class_name = _XENON + "UnknownAdaptorException"


class UnknownPropertyError(NotFoundError):
    """The adaptor does not accept that property."""

    java_class_name = _XENON + "UnknownPropertyException"


class NoSuchQueueError(NotFoundError):
    """The scheduler has no queue of that name."""

    java_class_name = _XENON + "schedulers.NoSuchQueueException"


class NoSuchPathError(NotFoundError):
    """The path does not exist."""

    java_class_name = _XENON + "filesystems.NoSuchPathException"


class AlreadyExistsError(XenonError):
    """Something the request would create already exists (ALREADY_EXISTS)."""

    code = grpc.StatusCode.ALREADY_EXISTS


class PathAlreadyExistsError(AlreadyExistsError):
    """The path already exists."""

    java_class_name = _XENON + "filesystems.PathAlreadyExistsException"


class PermissionDeniedError(XenonError):
    """PERMISSION_DENIED."""

    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhaustedError(XenonError):
    """A limit was hit, such as a message larger than the receiver accepts (RESOURCE_EXHAUSTED)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPreconditionError(XenonError):
    """The request is well formed but not valid here (FAILED_PRECONDITION)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class InvalidPropertyError(FailedPreconditionError):
    """A property has a value of the wrong type."""

    java_class_name = _XENON + "InvalidPropertyException"


class InvalidLocationError(FailedPreconditionError):
    """The location is not valid for the adaptor."""

    java_class_name = _XENON + "InvalidLocationException"


class InvalidCredentialError(FailedPreconditionError):
    """The adaptor does not accept this kind of credential."""

    java_class_name = _XENON + "InvalidCredentialException"


class InvalidJobDescriptionError(FailedPreconditionError):
    """The job description asks for something the scheduler cannot do."""

    java_class_name = _XENON + "schedulers.InvalidJobDescriptionException"


class InvalidPathError(FailedPreconditionError):
    """The path is of the wrong kind (not a file, not a directory, not a link)."""

    java_class_name = _XENON + "filesystems.InvalidPathException"


class AbortedError(XenonError):
    """ABORTED."""

    code = grpc.StatusCode.ABORTED


class OutOfRangeError(XenonError):
    """OUT_OF_RANGE."""

    code = grpc.StatusCode.OUT_OF_RANGE


class UnimplementedError(XenonError):
    """The server does not implement this call or feature (UNIMPLEMENTED)."""

    code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(XenonError):
    """The server failed (INTERNAL)."""

    code = grpc.StatusCode.INTERNAL


class AdaptorError(InternalError):
    """A plain ``nl.esciencecenter.xenon.XenonException``: the adaptor failed to do it.

    For example ``"local adaptor: Interactive job failed to start!"``.
    """

    java_class_name = _XENON + "XenonException"


class NoSuchJobError(InternalError):
    """The job is unknown, or was forgotten after its final status was read."""

    java_class_name = _XENON + "schedulers.NoSuchJobException"


class NoSuchCopyError(InternalError):
    """The copy is unknown, or was forgotten after its final status was read."""

    java_class_name = _XENON + "filesystems.NoSuchCopyException"


class DirectoryNotEmptyError(InternalError):
    """A non-recursive delete of a directory that has entries."""

    java_class_name = _XENON + "filesystems.DirectoryNotEmptyException"


class UnavailableError(XenonError):
    """The server cannot be reached or the connection was lost (UNAVAILABLE)."""

    code = grpc.StatusCode.UNAVAILABLE


class DataLossError(XenonError):
    """DATA_LOSS."""

    code = grpc.StatusCode.DATA_LOSS


class UnauthenticatedError(XenonError):
    """The server did not accept the client's credentials (UNAUTHENTICATED)."""

    code = grpc.StatusCode.UNAUTHENTICATED


class LoopThreadError(XenonError, RuntimeError):
    """A blocking rxxenon call was made on the connection's event-loop thread.

    That thread runs every call of the connection; blocking it would deadlock. Use the
    Observable form of the call instead, or move the work elsewhere with ``observe_on``.
    """


class StdinBufferFullError(XenonError, BufferError):
    """Stdin was pushed from the event-loop thread while the stdin buffer was full.

    Producers on other threads wait for room instead; the loop thread never waits.
    """


_BY_CODE: dict[grpc.StatusCode, type[XenonError]] = {
    cls.code: cls
    for cls in (
        CancelledError,
        UnknownError,
        InvalidArgumentError,
        DeadlineExceededError,
        NotFoundError,
        AlreadyExistsError,
        PermissionDeniedError,
        ResourceExhaustedError,
        FailedPreconditionError,
        AbortedError,
        OutOfRangeError,
        UnimplementedError,
        InternalError,
        UnavailableError,
        DataLossError,
        UnauthenticatedError,
    )
}

_LEAVES: tuple[type[XenonError], ...] = (
    IllegalArgumentError,
    UnknownAdaptorError,
    UnknownPropertyError,
    NoSuchQueueError,
    NoSuchPathError,
    PathAlreadyExistsError,
    InvalidPropertyError,
    InvalidLocationError,
    InvalidCredentialError,
    InvalidJobDescriptionError,
    InvalidPathError,
    AdaptorError,
    NoSuchJobError,
    NoSuchCopyError,
    DirectoryNotEmptyError,
)
_BY_JAVA_CLASS: dict[str, type[XenonError]] = {
    cls.java_class_name: cls for cls in _LEAVES if cls.java_class_name
}
_BY_PREFIX: tuple[type[NoSuchSchedulerError] | type[NoSuchFileSystemError], ...] = (
    NoSuchSchedulerError,
    NoSuchFileSystemError,
)


def error_from_status(code: grpc.StatusCode, details: str) -> XenonError:
    """The most specific :class:`XenonError` for a gRPC status code and details string.

    A leaf is chosen when the details name its Java class (or its handle prefix) *and* the
    code matches the leaf's; otherwise the class of the status code, keeping the code.
    """
    java_class, _ = _split_details(details)
    leaf = _BY_JAVA_CLASS.get(java_class or "")
    if leaf is None and code == grpc.StatusCode.NOT_FOUND:
        leaf = next((c for c in _BY_PREFIX if details.startswith(c.details_prefix)), None)
    if leaf is not None and leaf.code == code:
        return leaf(details)
    return _BY_CODE.get(code, UnknownError)(details, code=code)


def error_from_rpc_error(error: grpc.RpcError) -> XenonError:
    """Translate a grpcio error (sync or aio) into a :class:`XenonError` caused by it."""
    code_method = getattr(error, "code", None)
    details_method = getattr(error, "details", None)
    code = code_method() if callable(code_method) else grpc.StatusCode.UNKNOWN
    details = details_method() if callable(details_method) else str(error)
    translated = error_from_status(code or grpc.StatusCode.UNKNOWN, details or "")
    translated.__cause__ = error
    return translated
