"""getAdaptorNames / getAdaptorDescriptions / getAdaptorDescription (reference §1)."""

from __future__ import annotations

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc

from ._support import rpc_error

NOT_FOUND = grpc.StatusCode.NOT_FOUND
LOCAL_PREFIX = "xenon.adaptors.schedulers.local."


def test_adaptor_names_are_the_implemented_ones(stub: pb_grpc.SchedulerServiceStub) -> None:
    assert list(stub.getAdaptorNames(pb.Empty()).name) == ["local"]


def test_local_description(stub: pb_grpc.SchedulerServiceStub) -> None:
    local = stub.getAdaptorDescription(pb.AdaptorName(name="local"))
    assert local.name == "local"
    assert local.description == (
        "The local jobs adaptor implements all functionality by emulating a local queue."
    )
    assert list(local.supported_locations) == ["[/workdir]"]
    assert (
        local.is_embedded,
        local.supports_interactive,
        local.supports_batch,
        local.uses_file_system,
    ) == (True, True, True, True)
    assert list(local.supported_credentials) == ["DefaultCredential"]
    properties = [(p.name, p.type, p.default_value) for p in local.supported_properties]
    assert properties == [
        (LOCAL_PREFIX + "queue.pollingDelay", pb.PropertyDescription.LONG, "1000"),
        (LOCAL_PREFIX + "queue.multi.maxConcurrentJobs", pb.PropertyDescription.INTEGER, "4"),
    ]
    descriptions = {p.name: p.description for p in local.supported_properties}
    assert descriptions[LOCAL_PREFIX + "queue.pollingDelay"] == (
        "The polling delay for monitoring running jobs (in milliseconds)."
    )
    assert descriptions[LOCAL_PREFIX + "queue.multi.maxConcurrentJobs"] == (
        "The maximum number of concurrent jobs in the multiq."
    )


def test_descriptions_list_the_adaptors_in_name_order(
    stub: pb_grpc.SchedulerServiceStub,
) -> None:
    names = list(stub.getAdaptorNames(pb.Empty()).name)
    descriptions = stub.getAdaptorDescriptions(pb.Empty()).descriptions
    assert [d.name for d in descriptions] == names
    assert descriptions[0] == stub.getAdaptorDescription(pb.AdaptorName(name="local"))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nope", "Adaptor 'nope' not found"),
        ("", "Adaptor name may not be empty"),
    ],
)
def test_unknown_adaptor_description(
    stub: pb_grpc.SchedulerServiceStub, name: str, message: str
) -> None:
    details = f"nl.esciencecenter.xenon.UnknownAdaptorException: AdaptorLoader adaptor: {message}"
    with rpc_error(NOT_FOUND, details):
        stub.getAdaptorDescription(pb.AdaptorName(name=name))


@pytest.mark.parametrize("name", ["ssh", "at", "slurm", "gridengine", "torque"])
def test_xenon_grpc_only_adaptors_are_unknown_with_a_hint(
    stub: pb_grpc.SchedulerServiceStub, name: str
) -> None:
    details = (
        "nl.esciencecenter.xenon.UnknownAdaptorException: AdaptorLoader adaptor: "
        f"Adaptor '{name}' not found (the rxxenon embedded server implements only local "
        f"scheduling; '{name}' needs the xenon-grpc server)"
    )
    with rpc_error(NOT_FOUND, details):
        stub.getAdaptorDescription(pb.AdaptorName(name=name))
    with rpc_error(NOT_FOUND, details):
        stub.create(pb.CreateSchedulerRequest(adaptor=name, location="host"))
