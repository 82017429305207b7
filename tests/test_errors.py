"""The error table: from gRPC status + details to the most specific class, and back."""

from __future__ import annotations

import grpc
import pytest

import rxxenon
from rxxenon import (
    AdaptorError,
    DirectoryNotEmptyError,
    IllegalArgumentError,
    InternalError,
    InvalidCredentialError,
    InvalidJobDescriptionError,
    InvalidLocationError,
    InvalidPathError,
    InvalidPropertyError,
    NoSuchCopyError,
    NoSuchFileSystemError,
    NoSuchJobError,
    NoSuchPathError,
    NoSuchQueueError,
    NoSuchSchedulerError,
    NotFoundError,
    PathAlreadyExistsError,
    UnknownAdaptorError,
    UnknownError,
    UnknownPropertyError,
    XenonError,
)
from rxxenon._errors import error_from_status

X = "nl.esciencecenter.xenon."

# (code, details as the real server sends them, expected class) - from the behaviour reference
CASES = [
    (grpc.StatusCode.NOT_FOUND, f"{X}UnknownAdaptorException: AdaptorLoader adaptor: Adaptor 'nope' not found", UnknownAdaptorError),
    (grpc.StatusCode.NOT_FOUND, f"{X}UnknownPropertyException: XenonProperties adaptor: Unknown property foo", UnknownPropertyError),
    (grpc.StatusCode.FAILED_PRECONDITION, f'{X}InvalidPropertyException: XenonProperties adaptor: Property "p" has invalid value: abc (expected LONG)', InvalidPropertyError),
    (grpc.StatusCode.FAILED_PRECONDITION, f"{X}InvalidLocationException: local adaptor: Path is not absolute! local://", InvalidLocationError),
    (grpc.StatusCode.FAILED_PRECONDITION, f"{X}InvalidCredentialException: local adaptor: Local scheduler does not support this credential!", InvalidCredentialError),
    (grpc.StatusCode.NOT_FOUND, f"{X}schedulers.NoSuchQueueException: local adaptor: Queue nope not available locally!", NoSuchQueueError),
    (grpc.StatusCode.INTERNAL, f"{X}schedulers.NoSuchJobException: local adaptor: Job local-0 does not exist!", NoSuchJobError),
    (grpc.StatusCode.FAILED_PRECONDITION, f"{X}schedulers.InvalidJobDescriptionException: local adaptor: Unsupported task count: 2", InvalidJobDescriptionError),
    (grpc.StatusCode.INVALID_ARGUMENT, "java.lang.IllegalArgumentException: Argument may not be null or empty!", IllegalArgumentError),
    (grpc.StatusCode.NOT_FOUND, f"{X}filesystems.NoSuchPathException: file adaptor: Path does not exist: /x", NoSuchPathError),
    (grpc.StatusCode.ALREADY_EXISTS, f"{X}filesystems.PathAlreadyExistsException: file adaptor: Path already exists: /x", PathAlreadyExistsError),
    (grpc.StatusCode.FAILED_PRECONDITION, f"{X}filesystems.InvalidPathException: file adaptor: Not a symbolic link: /x", InvalidPathError),
    (grpc.StatusCode.INTERNAL, f"{X}filesystems.DirectoryNotEmptyException: file adaptor: Directory not empty: /x", DirectoryNotEmptyError),
    (grpc.StatusCode.INTERNAL, f"{X}filesystems.NoSuchCopyException: file adaptor: Copy not found: COPY-file-0", NoSuchCopyError),
    (grpc.StatusCode.NOT_FOUND, "Scheduler with id: zzz", NoSuchSchedulerError),
    (grpc.StatusCode.NOT_FOUND, "File system with id: zzz", NoSuchFileSystemError),
    (grpc.StatusCode.INTERNAL, f"{X}XenonException: local adaptor: Interactive job failed to start!", AdaptorError),
    (grpc.StatusCode.INTERNAL, "java.lang.NullPointerException: Cannot read field", InternalError),
    (grpc.StatusCode.UNKNOWN, "", UnknownError),
]  # fmt: skip


@pytest.mark.parametrize(("code", "details", "expected"), CASES)
def test_status_maps_to_the_most_specific_class(
    code: grpc.StatusCode, details: str, expected: type[XenonError]
) -> None:
    error = error_from_status(code, details)
    assert type(error) is expected
    assert error.code == code
    assert error.details == details
    assert error.status_details() == (code, details)


def test_a_leaf_needs_its_own_code() -> None:
    # The class name alone does not decide: a NoSuchPath with another code stays generic.
    error = error_from_status(grpc.StatusCode.INTERNAL, f"{X}filesystems.NoSuchPathException: x")
    assert type(error) is InternalError


def test_message_and_java_class_are_split() -> None:
    error = error_from_status(
        grpc.StatusCode.NOT_FOUND,
        f"{X}schedulers.NoSuchQueueException: local adaptor: No such queue: x",
    )
    assert error.java_class == f"{X}schedulers.NoSuchQueueException"
    assert error.message == "local adaptor: No such queue: x"
    assert isinstance(error, NotFoundError)


def test_from_adaptor_words_errors_like_the_java_server() -> None:
    error = NoSuchJobError.from_adaptor("local", "Job local-7 does not exist!")
    assert error.status_details() == (
        grpc.StatusCode.INTERNAL,
        f"{X}schedulers.NoSuchJobException: local adaptor: Job local-7 does not exist!",
    )


def test_every_public_error_is_a_xenon_error() -> None:
    errors = [getattr(rxxenon, name) for name in rxxenon.__all__ if name.endswith("Error")]
    assert errors
    for cls in errors:
        assert issubclass(cls, XenonError), cls
