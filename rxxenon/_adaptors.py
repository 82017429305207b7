"""Typed adaptor descriptions, as servers report them."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from rxxenon._proto import xenon_pb2 as pb

__all__ = [
    "FileSystemAdaptorDescription",
    "PropertyDescription",
    "PropertyType",
    "SchedulerAdaptorDescription",
]


class PropertyType(enum.Enum):
    """The type of an adaptor property's value."""

    STRING = pb.PropertyDescription.STRING
    BOOLEAN = pb.PropertyDescription.BOOLEAN
    INTEGER = pb.PropertyDescription.INTEGER
    DOUBLE = pb.PropertyDescription.DOUBLE
    LONG = pb.PropertyDescription.LONG
    SIZE = pb.PropertyDescription.SIZE
    NATURAL = pb.PropertyDescription.NATURAL


@dataclass(frozen=True)
class PropertyDescription:
    """One property an adaptor accepts at create time."""

    name: str
    description: str
    default_value: str
    type: PropertyType

    @classmethod
    def from_proto(cls, message: pb.PropertyDescription) -> PropertyDescription:
        return cls(
            message.name, message.description, message.default_value, PropertyType(message.type)
        )


@dataclass(frozen=True)
class SchedulerAdaptorDescription:
    """What a scheduler adaptor can do, where it can go, and which credentials it takes."""

    name: str
    description: str
    supported_locations: Sequence[str]
    supported_properties: Sequence[PropertyDescription]
    is_embedded: bool
    supports_interactive: bool
    supports_batch: bool
    uses_file_system: bool
    supported_credentials: Sequence[str]

    @classmethod
    def from_proto(cls, message: pb.SchedulerAdaptorDescription) -> SchedulerAdaptorDescription:
        return cls(
            name=message.name,
            description=message.description,
            supported_locations=tuple(message.supported_locations),
            supported_properties=tuple(
                PropertyDescription.from_proto(p) for p in message.supported_properties
            ),
            is_embedded=message.is_embedded,
            supports_interactive=message.supports_interactive,
            supports_batch=message.supports_batch,
            uses_file_system=message.uses_file_system,
            supported_credentials=tuple(message.supported_credentials),
        )


@dataclass(frozen=True)
class FileSystemAdaptorDescription:
    """What a file-system adaptor can do, where it can go, and which credentials it takes."""

    name: str
    description: str
    supported_locations: Sequence[str]
    supported_properties: Sequence[PropertyDescription]
    supported_credentials: Sequence[str]
    supports_third_party_copy: bool
    can_create_symbolic_links: bool
    can_read_symbolic_links: bool
    is_connectionless: bool
    supports_reading_posix_permissions: bool
    supports_setting_posix_permissions: bool
    supports_rename: bool
    can_append: bool
    #: Writes must announce their size up front (``s3``).
    needs_size_beforehand: bool

    @classmethod
    def from_proto(cls, message: pb.FileSystemAdaptorDescription) -> FileSystemAdaptorDescription:
        return cls(
            name=message.name,
            description=message.description,
            supported_locations=tuple(message.supported_locations),
            supported_properties=tuple(
                PropertyDescription.from_proto(p) for p in message.supported_properties
            ),
            supported_credentials=tuple(message.supported_credentials),
            supports_third_party_copy=message.supports_third_party_copy,
            can_create_symbolic_links=message.can_create_symboliclinks,
            can_read_symbolic_links=message.can_read_symboliclinks,
            is_connectionless=message.is_connectionless,
            supports_reading_posix_permissions=message.supports_reading_posix_permissions,
            supports_setting_posix_permissions=message.supports_setting_posix_permissions,
            supports_rename=message.supports_rename,
            can_append=message.can_append,
            needs_size_beforehand=message.needs_size_beforehand,
        )
