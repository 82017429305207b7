"""Typed adaptor descriptions, as servers report them."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from rxxenon._proto import xenon_pb2 as pb

__all__ = ["PropertyDescription", "PropertyType", "SchedulerAdaptorDescription"]


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
