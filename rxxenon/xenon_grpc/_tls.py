"""Mutual TLS for xenon-grpc: a self-signed certificate, and client credentials from it.

xenon-grpc turns TLS on only with all three of ``--server-cert-chain``,
``--server-private-key`` and ``--client-cert-chain`` (PEM files), and then requires a client
certificate (netty's ``ClientAuth.REQUIRE``). rxxenon uses one identity for both ends, as
PyXenon did: a single self-signed certificate is the server's certificate, the client's
certificate and the only trusted root on both sides, so only holders of its private key can
talk to the server.

The key is ECDSA P-256, written as unencrypted PKCS#8 PEM (``BEGIN PRIVATE KEY``, which
netty reads without extra libraries) with mode 0600. The certificate (SHA-256, valid from
five minutes ago for ``valid_days``) names ``localhost``, ``127.0.0.1`` and ``::1`` as subject
alternative names and allows both server and client authentication.

Generating needs the ``cryptography`` package (``pip install 'rxxenon[tls]'``), imported only
here, only when a certificate is made; reading existing files for a client does not need it.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

__all__ = [
    "TLS_CHANNEL_OPTIONS",
    "Certificates",
    "client_credentials",
    "ensure_certificates",
    "generate_certificates",
]

logger = logging.getLogger("rxxenon.xenon_grpc")

#: The file names used in a certificates directory.
CERTIFICATE_FILE = "xenon-grpc.crt"
PRIVATE_KEY_FILE = "xenon-grpc.key"

#: The name the generated certificate is checked against, whatever address the client dials.
SERVER_NAME = "localhost"

#: Channel options for a client of a server with a generated certificate: check the
#: certificate against ``localhost`` even when dialling another name or address (the server
#: listens on all interfaces, but the certificate names only the loopback ones).
TLS_CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (("grpc.ssl_target_name_override", SERVER_NAME),)

_CRYPTOGRAPHY_HINT = (
    "TLS certificates are made with the `cryptography` package: pip install 'rxxenon[tls]'"
)


@dataclass(frozen=True)
class Certificates:
    """A certificate and its private key, as PEM files.

    Attributes:
        certificate: the self-signed X.509 certificate (server chain, client chain and trust
            root at once).
        private_key: its private key, PKCS#8 PEM, unencrypted.
    """

    certificate: Path
    private_key: Path

    @classmethod
    def in_directory(cls, directory: str | os.PathLike[str]) -> Certificates:
        """The files rxxenon uses in ``directory`` (``xenon-grpc.crt``, ``xenon-grpc.key``)."""
        return cls(Path(directory, CERTIFICATE_FILE), Path(directory, PRIVATE_KEY_FILE))

    def exist(self) -> bool:
        """Whether both files are there."""
        return self.certificate.is_file() and self.private_key.is_file()

    def server_arguments(self) -> list[str]:
        """The xenon-grpc command-line options that turn on mutual TLS with these files."""
        return [
            "--server-cert-chain",
            str(self.certificate),
            "--server-private-key",
            str(self.private_key),
            "--client-cert-chain",
            str(self.certificate),
        ]

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Client credentials for a server using these files (see :func:`client_credentials`)."""
        return client_credentials(self.certificate, self.private_key)


def client_credentials(
    certificate_chain: str | os.PathLike[str],
    private_key: str | os.PathLike[str],
    root_certificates: str | os.PathLike[str] | None = None,
) -> grpc.ChannelCredentials:
    """``grpc.ChannelCredentials`` for a client of a mutual-TLS xenon-grpc server.

    Reads the files now. Pass the result as ``rxxenon.connect(address,
    channel_credentials=..., options=TLS_CHANNEL_OPTIONS)``; the options are needed when the
    address is not a name in the server's certificate (for rxxenon's generated certificate:
    anything but ``localhost``, ``127.0.0.1`` or ``::1``).

    Args:
        certificate_chain: the client's certificate (chain), PEM.
        private_key: its private key, PEM (PKCS#8 or traditional).
        root_certificates: the certificates that may sign the server's certificate, PEM;
            None means ``certificate_chain`` itself, which is right for rxxenon's single
            self-signed identity.

    Raises:
        FileNotFoundError: a file is missing.
    """
    chain = Path(certificate_chain).read_bytes()
    key = Path(private_key).read_bytes()
    roots = chain if root_certificates is None else Path(root_certificates).read_bytes()
    return grpc.ssl_channel_credentials(
        root_certificates=roots, private_key=key, certificate_chain=chain
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only, from the first byte on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        os.fchmod(file.fileno(), 0o600)  # also when the file existed with other bits
        file.write(data)


def generate_certificates(
    directory: str | os.PathLike[str],
    *,
    hostnames: Sequence[str] = (SERVER_NAME,),
    ip_addresses: Sequence[str] = ("127.0.0.1", "::1"),
    valid_days: int = 365,
) -> Certificates:
    """Make a new ECDSA P-256 key and a self-signed certificate for it in ``directory``.

    Overwrites ``xenon-grpc.crt`` and ``xenon-grpc.key`` there (the directory is created if
    needed). The certificate's common name is the first host name; its subject alternative
    names are ``hostnames`` and ``ip_addresses``.

    Raises:
        ModuleNotFoundError: ``cryptography`` is not installed.
    """
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(_CRYPTOGRAPHY_HINT, name="cryptography") from error

    files = Certificates.in_directory(directory)
    Path(directory).mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    now = datetime.datetime.now(datetime.UTC)
    alternative_names: list[x509.GeneralName] = [x509.DNSName(host) for host in hostnames]
    alternative_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    _write_private(
        files.private_key,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    files.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    logger.info("generated a TLS key and self-signed certificate in %s", directory)
    return files


def _still_valid(certificate: Path, margin: datetime.timedelta) -> bool:
    from cryptography import x509

    loaded = x509.load_pem_x509_certificate(certificate.read_bytes())
    return bool(loaded.not_valid_after_utc - margin > datetime.datetime.now(datetime.UTC))


def ensure_certificates(directory: str | os.PathLike[str]) -> Certificates:
    """The certificate and key in ``directory``, made by :func:`generate_certificates` unless
    both files are there already and the certificate is valid for at least another day.

    Existing files are used as they are; the key must be PEM that netty reads (PKCS#8).

    Raises:
        ModuleNotFoundError: ``cryptography`` is not installed.
    """
    files = Certificates.in_directory(directory)
    if files.exist():
        try:
            if _still_valid(files.certificate, datetime.timedelta(days=1)):
                return files
        except ValueError:  # not a PEM certificate: replace it
            pass
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(_CRYPTOGRAPHY_HINT, name="cryptography") from error
    return generate_certificates(directory)
