"""The wire contract: the committed stubs match protos/xenon.proto."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "generate_proto", ROOT / "scripts" / "generate_proto.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_proto"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_stubs_are_generated_from_the_proto(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (the test extra) regenerates the stubs")
    pytest.importorskip("mypy_protobuf", reason="mypy-protobuf (the test extra) makes the .pyi")
    generator = _generator()
    generated = generator.generate(tmp_path)
    assert generator.differences(generated) == [], (
        "rxxenon/_proto is out of date: run python scripts/generate_proto.py"
    )


def test_the_contract_has_both_services_and_every_method() -> None:
    from rxxenon._proto import xenon_pb2

    services = xenon_pb2.DESCRIPTOR.services_by_name
    assert xenon_pb2.DESCRIPTOR.package == "xenon"
    assert len(services["SchedulerService"].methods) == 26
    assert len(services["FileSystemService"].methods) == 33
    interactive = services["SchedulerService"].methods_by_name["submitInteractiveJob"]
    assert interactive.client_streaming
    assert interactive.server_streaming
