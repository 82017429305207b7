"""The generated TLS identity: key type and format, certificate names, files, reuse."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from pathlib import Path

import grpc
import pytest

from rxxenon.xenon_grpc import (
    Certificates,
    client_credentials,
    ensure_certificates,
    generate_certificates,
)

pytest.importorskip("cryptography", reason="TLS certificates are made with cryptography")

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return generate_certificates(tmp_path_factory.mktemp("certs"))


def load(files: Certificates) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    certificate = x509.load_pem_x509_certificate(files.certificate.read_bytes())
    key = serialization.load_pem_private_key(files.private_key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return certificate, key


def test_files_are_named_and_private(generated: Certificates) -> None:
    assert generated == Certificates.in_directory(generated.certificate.parent)
    assert generated.certificate.name == "xenon-grpc.crt"
    assert generated.private_key.name == "xenon-grpc.key"
    assert stat.S_IMODE(generated.private_key.stat().st_mode) == 0o600
    assert generated.exist()


def test_key_is_p256_in_unencrypted_pkcs8_pem(generated: Certificates) -> None:
    pem = generated.private_key.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8, which netty reads
    _, key = load(generated)
    assert isinstance(key.curve, ec.SECP256R1)


def test_certificate_is_self_signed_for_the_loopback_names(generated: Certificates) -> None:
    certificate, key = load(generated)
    assert certificate.issuer == certificate.subject
    certificate.verify_directly_issued_by(certificate)
    assert certificate.public_key() == key.public_key()
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usage) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


def test_certificate_validity(generated: Certificates) -> None:
    certificate, _ = load(generated)
    now = datetime.datetime.now(datetime.UTC)
    assert certificate.not_valid_before_utc <= now
    assert certificate.not_valid_after_utc - now > datetime.timedelta(days=364)


def test_server_arguments_are_the_three_tls_options(generated: Certificates) -> None:
    crt, key = str(generated.certificate), str(generated.private_key)
    assert generated.server_arguments() == [
        "--server-cert-chain",
        crt,
        "--server-private-key",
        key,
        "--client-cert-chain",
        crt,
    ]


def test_ensure_reuses_valid_files(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path)
    before = first.certificate.read_bytes(), first.private_key.read_bytes()
    again = ensure_certificates(tmp_path)
    assert (again.certificate.read_bytes(), again.private_key.read_bytes()) == before


def test_ensure_replaces_an_expiring_certificate(tmp_path: Path) -> None:
    old = generate_certificates(tmp_path, valid_days=0)
    before = old.certificate.read_bytes()
    renewed = ensure_certificates(tmp_path)
    assert renewed.certificate.read_bytes() != before
    certificate, _ = load(renewed)
    assert certificate.not_valid_after_utc > datetime.datetime.now(datetime.UTC)


def test_client_credentials_from_files(generated: Certificates) -> None:
    assert isinstance(
        client_credentials(generated.certificate, generated.private_key), grpc.ChannelCredentials
    )
    assert isinstance(generated.channel_credentials(), grpc.ChannelCredentials)


def test_client_credentials_need_the_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        client_credentials(tmp_path / "missing.crt", tmp_path / "missing.key")
