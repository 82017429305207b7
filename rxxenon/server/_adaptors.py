"""The adaptors the embedded server offers, and the rules for creating an instance of one.

Only the ``local`` scheduler adaptor and the ``file`` file-system adaptor are implemented.
Their descriptions, property names, types and defaults are the real server's (xenon-grpc
3.0.1 with Xenon 3.0.4), so a client cannot tell the two apart. Every other Xenon adaptor
(``ssh``, ``slurm``, ``sftp``, ``s3``, ...) is reported as unknown, with a hint that it needs
the xenon-grpc server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from rxxenon._errors import (
    InvalidCredentialError,
    InvalidLocationError,
    InvalidPropertyError,
    UnknownAdaptorError,
    UnknownPropertyError,
    XenonError,
)
from rxxenon._proto import xenon_pb2 as pb

__all__ = [
    "FILE",
    "FILE_SYSTEM_ADAPTOR_NAMES",
    "LOCAL",
    "SCHEDULER_ADAPTOR_NAMES",
    "check_adaptor",
    "check_create_file_system_request",
    "check_create_request",
    "check_file_system_adaptor",
    "file_description",
    "local_description",
]

LOCAL = "local"
FILE = "file"

#: The scheduler adaptors this server implements, in the order it lists them.
SCHEDULER_ADAPTOR_NAMES: tuple[str, ...] = (LOCAL,)
#: The file-system adaptors this server implements, in the order it lists them.
FILE_SYSTEM_ADAPTOR_NAMES: tuple[str, ...] = (FILE,)

#: Scheduler adaptors the real xenon-grpc server has and this one does not.
_XENON_GRPC_ONLY = ("ssh", "at", "slurm", "gridengine", "torque")
#: File-system adaptors the real xenon-grpc server has and this one does not.
_XENON_GRPC_ONLY_FILE_SYSTEMS = ("s3", "sftp", "ftp", "webdav")

_PREFIX = "xenon.adaptors.schedulers.local."
_POLLING_DELAY = _PREFIX + "queue.pollingDelay"
_MAX_CONCURRENT = _PREFIX + "queue.multi.maxConcurrentJobs"

_Type = pb.PropertyDescription.Type


@dataclass(frozen=True)
class _Property:
    name: str
    type: _Type.ValueType
    default: str
    description: str


_LOCAL_PROPERTIES = (
    _Property(
        _POLLING_DELAY,
        _Type.LONG,
        "1000",
        "The polling delay for monitoring running jobs (in milliseconds).",
    ),
    _Property(
        _MAX_CONCURRENT,
        _Type.INTEGER,
        "4",
        "The maximum number of concurrent jobs in the multiq.",
    ),
)

_BUFFER_SIZE = _Property(
    f"xenon.adaptors.filesystems.{FILE}.bufferSize",
    _Type.SIZE,
    "64K",
    "The buffer size to use when copying files (in bytes).",
)
_FILE_PROPERTIES = (_BUFFER_SIZE,)

# Java's Long.parseLong / Integer.parseInt: an optional sign and decimal digits, in range.
_JAVA_INTEGER = re.compile(r"[+-]?[0-9]+")
_RANGES = {_Type.LONG: 2**63, _Type.INTEGER: 2**31, _Type.SIZE: 2**63}
#: The unit a Xenon SIZE value may end with (K, M or G, either case).
_SIZE_UNITS = "KkMmGg"


def local_description() -> pb.SchedulerAdaptorDescription:
    """The ``local`` adaptor's description, as ``getAdaptorDescription("local")`` returns it."""
    return pb.SchedulerAdaptorDescription(
        name=LOCAL,
        description=(
            "The local jobs adaptor implements all functionality by emulating a local queue."
        ),
        supported_locations=["[/workdir]"],
        supported_properties=[
            pb.PropertyDescription(
                name=p.name, description=p.description, default_value=p.default, type=p.type
            )
            for p in _LOCAL_PROPERTIES
        ],
        is_embedded=True,
        supports_interactive=True,
        supports_batch=True,
        uses_file_system=True,
        supported_credentials=["DefaultCredential"],
    )


def file_description() -> pb.FileSystemAdaptorDescription:
    """The ``file`` adaptor's description, as ``getAdaptorDescription("file")`` returns it."""
    return pb.FileSystemAdaptorDescription(
        name=FILE,
        description="This is the local file adaptor that implements file functionality for "
        "local access.",
        supported_locations=["(null)", "(empty string)", "[/workdir]", "driveletter:[/workdir]"],
        supported_properties=[
            pb.PropertyDescription(
                name=p.name, description=p.description, default_value=p.default, type=p.type
            )
            for p in _FILE_PROPERTIES
        ],
        supports_third_party_copy=False,
        can_create_symboliclinks=True,
        can_read_symboliclinks=True,
        is_connectionless=True,
        supported_credentials=["DefaultCredential"],
        supports_reading_posix_permissions=True,
        supports_setting_posix_permissions=True,
        supports_rename=True,
        can_append=True,
        needs_size_beforehand=False,
    )


def _check_name(
    name: str, implemented: tuple[str, ...], elsewhere: tuple[str, ...], what: str
) -> None:
    if name in implemented:
        return
    if not name:
        raise UnknownAdaptorError.from_adaptor("AdaptorLoader", "Adaptor name may not be empty")
    message = f"Adaptor '{name}' not found"
    if name in elsewhere:
        message += (
            f" (the rxxenon embedded server implements only {what}; "
            f"'{name}' needs the xenon-grpc server)"
        )
    raise UnknownAdaptorError.from_adaptor("AdaptorLoader", message)


def check_adaptor(name: str) -> None:
    """Raise :class:`UnknownAdaptorError` unless ``name`` is a scheduler adaptor offered here."""
    _check_name(name, SCHEDULER_ADAPTOR_NAMES, _XENON_GRPC_ONLY, "local scheduling")


def check_file_system_adaptor(name: str) -> None:
    """Raise :class:`UnknownAdaptorError` unless ``name`` is a file-system adaptor offered here."""
    _check_name(name, FILE_SYSTEM_ADAPTOR_NAMES, _XENON_GRPC_ONLY_FILE_SYSTEMS, "local files")


def check_create_request(request: pb.CreateSchedulerRequest) -> None:
    """Validate a ``create`` for the ``local`` adaptor exactly as the real server does.

    In order: the adaptor name, the location (empty or absolute), the value of each
    documented property (``InvalidPropertyException``), properties ``local`` does not know,
    the credential (only a DefaultCredential), and finally any property at all: the real
    server hands the properties on to the ``file`` file system it creates for the scheduler,
    which knows none of them, so even a valid ``local`` property ends in
    ``UnknownPropertyException``. Properties are checked in name order.
    """
    check_adaptor(request.adaptor)
    location = request.location
    if location and not location.startswith("/"):
        raise InvalidLocationError.from_adaptor(LOCAL, f"Path is not absolute! {location}")
    _check_property_values(request.properties)
    known = {p.name for p in _LOCAL_PROPERTIES}
    for name in sorted(request.properties):
        if name not in known:
            raise _unknown_property(name)
    credential = request.WhichOneof("credential")
    if credential not in (None, "default_credential"):
        raise InvalidCredentialError.from_adaptor(
            LOCAL, "Local scheduler does not support this credential!"
        )
    if request.properties:
        raise _unknown_property(min(request.properties))


def check_create_file_system_request(request: pb.CreateFileSystemRequest) -> None:
    """Validate a ``create`` for the ``file`` adaptor as the real server does.

    In order: the adaptor name, the location (empty or absolute; the message says ``local
    adaptor``, as the real server's does), the credential (only a DefaultCredential), then
    each property in name order: an unknown one is ``UnknownPropertyException``, a
    ``bufferSize`` that is not a Xenon SIZE (a Java long with an optional K, M or G) is
    ``InvalidPropertyException``. Last, as the adaptor itself checks it: a ``bufferSize`` of
    less than 1 byte or 2^31 - 1 bytes or more is ``InvalidPropertyException`` ``"file
    adaptor: Invalid value for <name>: <bytes> (must be between 1 and 2147483647)"``.
    """
    check_file_system_adaptor(request.adaptor)
    location = request.location
    if location and not location.startswith("/"):
        raise InvalidLocationError.from_adaptor(LOCAL, f"Path is not absolute! {location}")
    credential = request.WhichOneof("credential")
    if credential not in (None, "default_credential"):
        raise InvalidCredentialError.from_adaptor(FILE, "Adaptor does not support this credential!")
    known = {p.name: p for p in _FILE_PROPERTIES}
    for name in sorted(request.properties):
        prop = known.get(name)
        if prop is None:
            raise _unknown_property(name)
        _check_value(prop, request.properties[name])
    buffer_size = request.properties.get(_BUFFER_SIZE.name)
    if buffer_size is not None and not 0 < _size_bytes(buffer_size) < 2**31 - 1:
        message = (
            f"Invalid value for {_BUFFER_SIZE.name}: {_size_bytes(buffer_size)} "
            "(must be between 1 and 2147483647)"
        )
        raise InvalidPropertyError.from_adaptor(FILE, message)


def _size_bytes(value: str) -> int:
    """A valid Xenon SIZE in bytes (K, M and G are powers of 1024)."""
    if value[-1] in _SIZE_UNITS:
        return int(value[:-1]) << (10 * ("kmg".index(value[-1].lower()) + 1))
    return int(value)


def _check_property_values(properties: Mapping[str, str]) -> None:
    for prop in _LOCAL_PROPERTIES:
        value = properties.get(prop.name)
        if value is not None:
            _check_value(prop, value)


def _check_value(prop: _Property, value: str) -> None:
    """Raise ``InvalidPropertyException`` unless ``value`` parses as Java parses ``prop.type``."""
    number = value
    if prop.type == _Type.SIZE and number and number[-1] in _SIZE_UNITS:
        number = number[:-1]
    bound = _RANGES[prop.type]
    if not _JAVA_INTEGER.fullmatch(number) or not -bound <= int(number) < bound:
        type_name = _Type.Name(prop.type)
        raise InvalidPropertyError.from_adaptor(
            "XenonProperties",
            f'Property "{prop.name}" has invalid value: {value} (expected {type_name})',
        )


def _unknown_property(name: str) -> XenonError:
    return UnknownPropertyError.from_adaptor("XenonProperties", f"Unknown property {name}")
