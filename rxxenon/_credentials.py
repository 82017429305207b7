"""Credentials for creating schedulers and file systems, and what a server reports back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rxxenon._proto import xenon_pb2 as pb

__all__ = [
    "CertificateCredential",
    "Credential",
    "CredentialMap",
    "DefaultCredential",
    "KeytabCredential",
    "PasswordCredential",
    "UserCredential",
    "credential_fields",
    "credential_from_proto",
]


@dataclass(frozen=True)
class DefaultCredential:
    """Log in as ``username`` (empty: the user the server runs as) with default keys/agents."""

    username: str = ""

    def to_proto(self) -> pb.DefaultCredential:
        return pb.DefaultCredential(username=self.username)


@dataclass(frozen=True, repr=False)
class PasswordCredential:
    """A user name and a password (the password is never shown by ``repr``)."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"PasswordCredential(username={self.username!r}, password='***')"

    def to_proto(self) -> pb.PasswordCredential:
        return pb.PasswordCredential(username=self.username, password=self.password)


@dataclass(frozen=True, repr=False)
class CertificateCredential:
    """A private-key file on the server's machine, its passphrase, and the user name."""

    certfile: str
    username: str = ""
    passphrase: str = ""

    def __repr__(self) -> str:
        return f"CertificateCredential(certfile={self.certfile!r}, username={self.username!r})"

    def to_proto(self) -> pb.CertificateCredential:
        return pb.CertificateCredential(
            certfile=self.certfile, username=self.username, passphrase=self.passphrase
        )


@dataclass(frozen=True)
class KeytabCredential:
    """A Kerberos keytab file and the user it belongs to."""

    username: str
    keytabfile: str

    def to_proto(self) -> pb.KeytabCredential:
        return pb.KeytabCredential(username=self.username, keytabfile=self.keytabfile)


UserCredential = DefaultCredential | PasswordCredential | CertificateCredential | KeytabCredential


@dataclass(frozen=True)
class CredentialMap:
    """A credential per ``host[:port]`` (for hops through ``via:`` hosts), and a fallback."""

    entries: Mapping[str, UserCredential] = field(default_factory=dict)
    fallback: UserCredential | None = None

    def to_proto(self) -> pb.CredentialMap:
        message = pb.CredentialMap()
        for host, credential in self.entries.items():
            message.entries[host].CopyFrom(pb.UserCredential(**_oneof(credential)))
        if self.fallback is not None:
            for name, value in _oneof(self.fallback).items():
                getattr(message, name).CopyFrom(value)
        return message


Credential = UserCredential | CredentialMap

_FIELD_NAMES: dict[type[Any], str] = {
    DefaultCredential: "default_credential",
    PasswordCredential: "password_credential",
    CertificateCredential: "certificate_credential",
    KeytabCredential: "keytab_credential",
    CredentialMap: "credential_map",
}


def _oneof(credential: Credential) -> dict[str, Any]:
    return {_FIELD_NAMES[type(credential)]: credential.to_proto()}


def credential_fields(credential: Credential | None) -> dict[str, Any]:
    """Keyword arguments that set the ``credential`` oneof of a create request."""
    return {} if credential is None else _oneof(credential)


def _user_credential(message: Any, field_name: str | None) -> UserCredential | None:
    if field_name == "default_credential":
        return DefaultCredential(message.default_credential.username)
    if field_name == "password_credential":
        c = message.password_credential
        return PasswordCredential(c.username, c.password)
    if field_name == "certificate_credential":
        c = message.certificate_credential
        return CertificateCredential(c.certfile, c.username, c.passphrase)
    if field_name == "keytab_credential":
        c = message.keytab_credential
        return KeytabCredential(c.username, c.keytabfile)
    return None


def credential_from_proto(message: pb.GetCredentialResponse) -> Credential | None:
    """Read a ``GetCredentialResponse``; None when it carries no credential."""
    which = message.WhichOneof("credential")
    if which == "credential_map":
        cmap = message.credential_map
        entries = {
            host: credential
            for host, entry in cmap.entries.items()
            if (credential := _user_credential(entry, entry.WhichOneof("entry"))) is not None
        }
        return CredentialMap(entries, _user_credential(cmap, cmap.WhichOneof("fallback")))
    return _user_credential(message, which)
