"""XenonGrpcServer with mutual TLS, and clients of a TLS server started elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

import rxxenon
from rxxenon.xenon_grpc import (
    TLS_CHANNEL_OPTIONS,
    Certificates,
    XenonGrpcServer,
    client_credentials,
    generate_certificates,
)

from .conftest import SIX_ADAPTORS

pytestmark = pytest.mark.usefixtures("java_and_jar")
pytest.importorskip("cryptography", reason="TLS certificates are made with cryptography")


def test_round_trip_with_the_servers_credentials(tls_server: XenonGrpcServer) -> None:
    with rxxenon.connect(
        tls_server.address,
        channel_credentials=tls_server.channel_credentials(),
        options=tls_server.channel_options(),
    ) as xenon:
        assert xenon.get_scheduler_adaptor_names() == SIX_ADAPTORS
    assert repr(tls_server).startswith(f"<XenonGrpcServer {tls_server.address} TLS, pid ")


def test_plaintext_client_is_refused(tls_server: XenonGrpcServer) -> None:
    with pytest.raises(rxxenon.UnavailableError):
        rxxenon.connect(tls_server.address, ready_timeout=1)


def test_client_with_another_certificate_is_refused(
    tls_server: XenonGrpcServer, tmp_path: Path
) -> None:
    stranger = generate_certificates(tmp_path)
    with pytest.raises(rxxenon.UnavailableError):
        rxxenon.connect(
            tls_server.address,
            channel_credentials=stranger.channel_credentials(),
            options=TLS_CHANNEL_OPTIONS,
            ready_timeout=1,
        )


def test_private_certificates_serve_localhost_and_are_removed_at_stop() -> None:
    with XenonGrpcServer(tls=True) as server:
        certificates = server.certificates
        assert certificates is not None
        assert certificates.exist()
        # The certificate names localhost too, so no name override is needed for it.
        with rxxenon.connect(
            f"localhost:{server.port}", channel_credentials=server.channel_credentials()
        ) as xenon:
            assert xenon.get_scheduler_adaptor_names() == SIX_ADAPTORS
    assert not certificates.certificate.parent.exists()


def test_kept_certificates_let_other_clients_connect(tmp_path: Path) -> None:
    # A server started elsewhere (here: by this test) with its files kept in a directory;
    # a client that has only the address and the files.
    with XenonGrpcServer(tls=True, certificates_dir=tmp_path) as server:
        address = server.address
        credentials = client_credentials(tmp_path / "xenon-grpc.crt", tmp_path / "xenon-grpc.key")
        with rxxenon.connect(
            address, channel_credentials=credentials, options=TLS_CHANNEL_OPTIONS
        ) as xenon:
            assert xenon.get_scheduler_adaptor_names() == SIX_ADAPTORS
        files = Certificates.in_directory(tmp_path)
        with rxxenon.connect(
            address, channel_credentials=files.channel_credentials(), options=TLS_CHANNEL_OPTIONS
        ) as xenon:
            assert xenon.get_scheduler_adaptor_names() == SIX_ADAPTORS
    assert files.exist()  # kept after stop
