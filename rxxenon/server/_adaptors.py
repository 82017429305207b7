"""The scheduler adaptors the embedded server offers, and the rules for creating one.

Only ``local`` is implemented. Its description, property names, types and defaults are the
real server's (xenon-grpc 3.0.1 with Xenon 3.0.4), so a client cannot tell the two apart.
Every other Xenon scheduler adaptor (``ssh``, ``slurm``, ...) is reported as unknown, with a
hint that it needs the xenon-grpc server.
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
    "LOCAL",
    "SCHEDULER_ADAPTOR_NAMES",
    "check_adaptor",
    "check_create_request",
    "local_description",
]

LOCAL = "local"

#: The scheduler adaptors this server implements, in the order it lists them.
SCHEDULER_ADAPTOR_NAMES: tuple[str, ...] = (LOCAL,)

#: Scheduler adaptors the real xenon-grpc server has and this one does not.
_XENON_GRPC_ONLY = ("ssh", "at", "slurm", "gridengine", "torque")

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

# Java's Long.parseLong / Integer.parseInt: an optional sign and decimal digits, in range.
_JAVA_INTEGER = re.compile(r"[+-]?[0-9]+")
_RANGES = {_Type.LONG: 2**63, _Type.INTEGER: 2**31}


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


def check_adaptor(name: str) -> None:
    """Raise :class:`UnknownAdaptorError` unless ``name`` is an adaptor this server implements."""
    if name in SCHEDULER_ADAPTOR_NAMES:
        return
    if not name:
        raise UnknownAdaptorError.from_adaptor("AdaptorLoader", "Adaptor name may not be empty")
    message = f"Adaptor '{name}' not found"
    if name in _XENON_GRPC_ONLY:
        message += (
            " (the rxxenon embedded server implements only local scheduling; "
            f"'{name}' needs the xenon-grpc server)"
        )
    raise UnknownAdaptorError.from_adaptor("AdaptorLoader", message)


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


def _check_property_values(properties: Mapping[str, str]) -> None:
    for prop in _LOCAL_PROPERTIES:
        value = properties.get(prop.name)
        if value is None:
            continue
        bound = _RANGES[prop.type]
        if not _JAVA_INTEGER.fullmatch(value) or not -bound <= int(value) < bound:
            type_name = _Type.Name(prop.type)
            raise InvalidPropertyError.from_adaptor(
                "XenonProperties",
                f'Property "{prop.name}" has invalid value: {value} (expected {type_name})',
            )


def _unknown_property(name: str) -> XenonError:
    return UnknownPropertyError.from_adaptor("XenonProperties", f"Unknown property {name}")
