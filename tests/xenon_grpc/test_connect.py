"""``rxxenon.connect(xenon_grpc=...)``: start the Java server, connect, stop it on close."""

from __future__ import annotations

import pytest

import rxxenon
from rxxenon.xenon_grpc import XenonGrpcServer
from tests.helpers import wait_for
from tests.xenon_grpc._procs import alive
from tests.xenon_grpc.conftest import SIX_ADAPTORS


def test_connect_starts_a_tls_server_and_stops_it_on_close(java_and_jar: None) -> None:
    pytest.importorskip("cryptography", reason="TLS certificates are made with cryptography")
    with rxxenon.connect(xenon_grpc=True) as xenon:
        server = xenon.server
        assert isinstance(server, XenonGrpcServer)
        assert server.certificates is not None  # mutual TLS by default
        assert xenon.get_scheduler_adaptor_names() == SIX_ADAPTORS
        assert "XenonGrpcServer" in repr(xenon)
        pid = server.pid
        assert pid is not None
    assert wait_for(lambda: not alive(pid))


def test_connect_uses_a_given_server(java_and_jar: None) -> None:
    server = XenonGrpcServer()
    with rxxenon.connect(xenon_grpc=server) as xenon:
        assert server.running
        assert xenon.get_file_system_adaptor_names() == ["s3", "file", "sftp", "ftp", "webdav"]
    assert not server.running


def test_address_and_xenon_grpc_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="not both"):
        rxxenon.connect("127.0.0.1:1", xenon_grpc=True)
