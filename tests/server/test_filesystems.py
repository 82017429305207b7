"""FileSystemService adaptors, create, localFileSystems, listFileSystems, close, information
calls and unknown handles (reference §1 and §5.1)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc
from rxxenon.server._registry import os_user

from ._files import FileSystemClient, sparse_file
from ._support import CALL_TIMEOUT, SchedulerClient, poll_until, rpc_error

NOT_FOUND = grpc.StatusCode.NOT_FOUND
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
USER = os_user()
XENON = "nl.esciencecenter.xenon."
BUFFER_SIZE = "xenon.adaptors.filesystems.file.bufferSize"

NewFs = Callable[..., pb.FileSystem]


def fs_id(user: str, location: str) -> re.Pattern[str]:
    return re.compile(rf"file://{re.escape(user)}@{re.escape(location)}#-?\d+")


# Adaptors -----------------------------------------------------------------------------------


def test_adaptor_names_are_the_implemented_ones(fs_stub: pb_grpc.FileSystemServiceStub) -> None:
    assert list(fs_stub.getAdaptorNames(pb.Empty()).name) == ["file"]


def test_file_description(fs_stub: pb_grpc.FileSystemServiceStub) -> None:
    file = fs_stub.getAdaptorDescription(pb.AdaptorName(name="file"))
    assert file.name == "file"
    assert file.description == (
        "This is the local file adaptor that implements file functionality for local access."
    )
    assert list(file.supported_locations) == [
        "(null)",
        "(empty string)",
        "[/workdir]",
        "driveletter:[/workdir]",
    ]
    assert list(file.supported_credentials) == ["DefaultCredential"]
    flags = (
        file.supports_third_party_copy,
        file.can_create_symboliclinks,
        file.can_read_symboliclinks,
        file.is_connectionless,
        file.supports_reading_posix_permissions,
        file.supports_setting_posix_permissions,
        file.supports_rename,
        file.can_append,
        file.needs_size_beforehand,
    )
    assert flags == (False, True, True, True, True, True, True, True, False)
    assert [
        (p.name, p.type, p.default_value, p.description) for p in file.supported_properties
    ] == [
        (
            BUFFER_SIZE,
            pb.PropertyDescription.SIZE,
            "64K",
            "The buffer size to use when copying files (in bytes).",
        )
    ]


def test_descriptions_list_the_adaptors_in_name_order(
    fs_stub: pb_grpc.FileSystemServiceStub,
) -> None:
    names = list(fs_stub.getAdaptorNames(pb.Empty()).name)
    descriptions = fs_stub.getAdaptorDescriptions(pb.Empty()).descriptions
    assert [d.name for d in descriptions] == names
    by_name = {d.name: d for d in descriptions}
    assert by_name["file"] == fs_stub.getAdaptorDescription(pb.AdaptorName(name="file"))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nope", "Adaptor 'nope' not found"),
        ("local", "Adaptor 'local' not found"),
        ("", "Adaptor name may not be empty"),
    ],
)
def test_unknown_adaptor(fs_stub: pb_grpc.FileSystemServiceStub, name: str, message: str) -> None:
    details = f"{XENON}UnknownAdaptorException: AdaptorLoader adaptor: {message}"
    with rpc_error(NOT_FOUND, details):
        fs_stub.getAdaptorDescription(pb.AdaptorName(name=name))
    with rpc_error(NOT_FOUND, details):
        fs_stub.create(pb.CreateFileSystemRequest(adaptor=name))


@pytest.mark.parametrize("name", ["s3", "sftp", "ftp", "webdav"])
def test_xenon_grpc_only_adaptors_are_unknown_with_a_hint(
    fs_stub: pb_grpc.FileSystemServiceStub, name: str
) -> None:
    details = (
        f"{XENON}UnknownAdaptorException: AdaptorLoader adaptor: "
        f"Adaptor '{name}' not found (the rxxenon embedded server implements only local "
        f"files; '{name}' needs the xenon-grpc server)"
    )
    with rpc_error(NOT_FOUND, details):
        fs_stub.getAdaptorDescription(pb.AdaptorName(name=name))
    with rpc_error(NOT_FOUND, details):
        fs_stub.create(pb.CreateFileSystemRequest(adaptor=name, location="host"))


# create -------------------------------------------------------------------------------------


def test_empty_location_is_the_server_cwd(
    fs_stub: pb_grpc.FileSystemServiceStub, new_fs: NewFs
) -> None:
    first, second = new_fs(), new_fs()
    assert fs_id(USER, os.getcwd()).fullmatch(first.id), first.id
    assert fs_id(USER, os.getcwd()).fullmatch(second.id), second.id
    assert first.id != second.id  # every create makes a new file system
    assert fs_stub.getLocation(first).location == os.getcwd()
    assert fs_stub.getWorkingDirectory(first) == pb.Path(path=os.getcwd(), separator="")


def test_location_is_kept_and_not_checked(
    fs_stub: pb_grpc.FileSystemServiceStub, new_fs: NewFs, tmp_path: Path
) -> None:
    filesystem = new_fs(location=str(tmp_path))
    assert fs_id(USER, str(tmp_path)).fullmatch(filesystem.id), filesystem.id
    assert fs_stub.getLocation(filesystem).location == str(tmp_path)
    assert fs_stub.getWorkingDirectory(filesystem).path == str(tmp_path)
    missing = new_fs(location="/nonexistent/dir")
    assert fs_stub.getLocation(missing).location == "/nonexistent/dir"


@pytest.mark.parametrize("location", ["relative/dir", "file:///tmp"])
def test_location_must_be_absolute(fs_stub: pb_grpc.FileSystemServiceStub, location: str) -> None:
    # The real server's message says "local adaptor" for the file adaptor too.
    details = f"{XENON}InvalidLocationException: local adaptor: Path is not absolute! {location}"
    with rpc_error(FAILED_PRECONDITION, details):
        fs_stub.create(pb.CreateFileSystemRequest(adaptor="file", location=location))


@pytest.mark.parametrize("value", ["1K", "64k", "2M", "3m", "1G", "1g", "100", "+7", "1"])
def test_buffer_size_is_a_size(
    fs_stub: pb_grpc.FileSystemServiceStub, new_fs: NewFs, value: str
) -> None:
    filesystem = new_fs(properties={BUFFER_SIZE: value})
    assert fs_stub.getProperties(filesystem) == pb.Properties(properties={BUFFER_SIZE: value})


@pytest.mark.parametrize("value", ["abc", "", "1KB", "1.5K", "K", "9223372036854775808"])
def test_bad_buffer_size_is_invalid(fs_stub: pb_grpc.FileSystemServiceStub, value: str) -> None:
    details = (
        f"{XENON}InvalidPropertyException: XenonProperties adaptor: "
        f'Property "{BUFFER_SIZE}" has invalid value: {value} (expected SIZE)'
    )
    with rpc_error(FAILED_PRECONDITION, details):
        fs_stub.create(pb.CreateFileSystemRequest(adaptor="file", properties={BUFFER_SIZE: value}))


@pytest.mark.parametrize(
    ("value", "size"),
    [("0", 0), ("-1", -1), ("-5k", -5120), ("2147483647", 2147483647), ("2G", 2147483648)],
)
def test_buffer_size_out_of_range(
    fs_stub: pb_grpc.FileSystemServiceStub, value: str, size: int
) -> None:
    # The adaptor's own check, after the properties parsed (2^31 - 1 itself is refused).
    details = (
        f"{XENON}InvalidPropertyException: file adaptor: Invalid value for {BUFFER_SIZE}: "
        f"{size} (must be between 1 and 2147483647)"
    )
    with rpc_error(FAILED_PRECONDITION, details):
        fs_stub.create(pb.CreateFileSystemRequest(adaptor="file", properties={BUFFER_SIZE: value}))
    # A property nobody knows is reported first.
    unknown = f"{XENON}UnknownPropertyException: XenonProperties adaptor: Unknown property zzz"
    with rpc_error(NOT_FOUND, unknown):
        properties = {BUFFER_SIZE: value, "zzz": "x"}
        fs_stub.create(pb.CreateFileSystemRequest(adaptor="file", properties=properties))


def test_unknown_property(fs_stub: pb_grpc.FileSystemServiceStub) -> None:
    details = f"{XENON}UnknownPropertyException: XenonProperties adaptor: Unknown property foo"
    with rpc_error(NOT_FOUND, details):
        fs_stub.create(pb.CreateFileSystemRequest(adaptor="file", properties={"foo": "bar"}))
    # With several bad properties, which one is reported is not defined (the real server:
    # map order; the embedded one: name order).
    properties = {BUFFER_SIZE: "abc", "a.first": "x"}
    with pytest.raises(grpc.RpcError) as raised:
        fs_stub.create(pb.CreateFileSystemRequest(adaptor="file", properties=properties))
    error: Any = raised.value
    assert (error.code(), error.details()) in [
        (NOT_FOUND, f"{XENON}UnknownPropertyException: XenonProperties adaptor: "
         "Unknown property a.first"),
        (FAILED_PRECONDITION, f"{XENON}InvalidPropertyException: XenonProperties adaptor: "
         f'Property "{BUFFER_SIZE}" has invalid value: abc (expected SIZE)'),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "credential",
    [
        {"password_credential": pb.PasswordCredential(username="u", password="p")},
        {"certificate_credential": pb.CertificateCredential(certfile="/k", username="u")},
        {"credential_map": pb.CredentialMap(default_credential=pb.DefaultCredential())},
        {"keytab_credential": pb.KeytabCredential(username="u", keytabfile="/k")},
    ],
    ids=["password", "certificate", "credential-map", "keytab"],
)
def test_only_default_credentials(
    fs_stub: pb_grpc.FileSystemServiceStub, credential: dict[str, Any]
) -> None:
    details = (
        f"{XENON}InvalidCredentialException: file adaptor: Adaptor does not support this "
        "credential!"
    )
    with rpc_error(FAILED_PRECONDITION, details):
        fs_stub.create(pb.CreateFileSystemRequest(adaptor="file", **credential))


def test_default_credential_names_the_id_user_only(
    fs_stub: pb_grpc.FileSystemServiceStub, new_fs: NewFs
) -> None:
    filesystem = new_fs(default_credential=pb.DefaultCredential(username="someone"))
    assert fs_id("someone", os.getcwd()).fullmatch(filesystem.id), filesystem.id
    assert fs_stub.getCredential(filesystem) == pb.GetCredentialResponse(
        default_credential=pb.DefaultCredential(username=USER)
    )


def test_information_calls(fs_stub: pb_grpc.FileSystemServiceStub, fs: FileSystemClient) -> None:
    filesystem = fs.filesystem
    assert fs_stub.getAdaptorName(filesystem).name == "file"
    assert fs_stub.getCredential(filesystem) == pb.GetCredentialResponse(
        default_credential=pb.DefaultCredential(username=USER)
    )
    assert fs_stub.getPathSeparator(filesystem).separator == "/"
    assert fs_stub.getProperties(filesystem) == pb.Properties()
    assert fs_stub.isOpen(filesystem).value is True


# localFileSystems, listFileSystems, close ---------------------------------------------------


def test_local_file_systems(fs_stub: pb_grpc.FileSystemServiceStub) -> None:
    first = fs_stub.localFileSystems(pb.Empty()).filesystems
    second = fs_stub.localFileSystems(pb.Empty()).filesystems
    try:
        assert len(first) == len(second) == 1
        assert fs_id(USER, "/").fullmatch(first[0].id), first[0].id
        assert first[0].id != second[0].id  # a new file system on every call
        assert fs_stub.getLocation(first[0]).location == "/"
        assert fs_stub.getWorkingDirectory(first[0]) == pb.Path(path="/", separator="")
        listed = {f.id for f in fs_stub.listFileSystems(pb.Empty()).filesystems}
        assert {first[0].id, second[0].id} <= listed
    finally:
        for filesystem in (*first, *second):
            fs_stub.close(filesystem)


def test_list_includes_the_file_systems_of_schedulers(
    fs_stub: pb_grpc.FileSystemServiceStub, stub: pb_grpc.SchedulerServiceStub
) -> None:
    scheduler = stub.localScheduler(pb.Empty(), timeout=CALL_TIMEOUT)
    try:
        filesystem = stub.getFileSystem(scheduler)
        listed = [f.id for f in fs_stub.listFileSystems(pb.Empty()).filesystems]
        assert filesystem.id in listed
        assert fs_stub.getWorkingDirectory(filesystem).path == os.getcwd()
    finally:
        stub.close(scheduler)
        fs_stub.close(filesystem)


def test_list_file_systems_in_creation_order(
    fs_stub: pb_grpc.FileSystemServiceStub, new_fs: NewFs
) -> None:
    made = [new_fs().id for _ in range(8)]  # (by chance in hash-map order: 1 in 40320)
    listed = [f.id for f in fs_stub.listFileSystems(pb.Empty()).filesystems]
    assert [i for i in listed if i in made] == made


def test_close(fs_stub: pb_grpc.FileSystemServiceStub, new_fs: NewFs) -> None:
    first, second = new_fs(), new_fs()
    assert fs_stub.close(first) == pb.Empty()
    listed = {f.id for f in fs_stub.listFileSystems(pb.Empty()).filesystems}
    assert first.id not in listed
    assert second.id in listed
    with rpc_error(NOT_FOUND, f"File system with id: {first.id}"):
        fs_stub.close(first)
    with rpc_error(NOT_FOUND, f"File system with id: {first.id}"):
        fs_stub.isOpen(first)


def test_close_cancels_the_copies_of_the_file_system(
    fs_stub: pb_grpc.FileSystemServiceStub, fs: FileSystemClient
) -> None:
    # Decision (the reference is silent): closing a file system cancels its copies, which no
    # call could reach any more; close returns once they stopped.
    sparse_file(fs.root / "big", 2 * 1024**3)
    copy_id = fs.copy("big", "copy")
    poll_until(lambda: fs.status(copy_id).bytes_copied > 0, what="the copy to start")
    fs_stub.close(fs.filesystem)
    still_open = fs.open_descriptors(fs.root / "copy")
    size = (fs.root / "copy").stat().st_size
    (fs.root / "copy").unlink()  # (a copy left running fills nothing that stays)
    assert still_open == []
    assert 0 < size < 2 * 1024**3


# Unknown handles ----------------------------------------------------------------------------


def _calls(filesystem: pb.FileSystem, good: pb.FileSystem) -> dict[str, Callable[[Any], Any]]:
    path = pb.Path(path="x")
    request = pb.PathRequest(filesystem=filesystem, path=path)
    copy = pb.CopyOperation(id="COPY-file-0")
    copy_request = pb.CopyOperationRequest(filesystem=filesystem, copy_operation=copy)
    return {
        "getAdaptorName": lambda s: s.getAdaptorName(filesystem),
        "getLocation": lambda s: s.getLocation(filesystem),
        "getCredential": lambda s: s.getCredential(filesystem),
        "getProperties": lambda s: s.getProperties(filesystem),
        "createDirectories": lambda s: s.createDirectories(request),
        "createDirectory": lambda s: s.createDirectory(request),
        "createFile": lambda s: s.createFile(request),
        "createSymbolicLink": lambda s: s.createSymbolicLink(
            pb.CreateSymbolicLinkRequest(filesystem=filesystem, link=path, target=path)
        ),
        "copy": lambda s: s.copy(
            pb.CopyRequest(
                filesystem=filesystem, source=path, destination_filesystem=good, destination=path
            )
        ),
        "copy (destination)": lambda s: s.copy(
            pb.CopyRequest(
                filesystem=good, source=path, destination_filesystem=filesystem, destination=path
            )
        ),
        "cancel": lambda s: s.cancel(copy_request),
        "getStatus": lambda s: s.getStatus(copy_request),
        "rename": lambda s: s.rename(
            pb.RenameRequest(filesystem=filesystem, source=path, target=path)
        ),
        "delete": lambda s: s.delete(pb.DeleteRequest(filesystem=filesystem, path=path)),
        "exists": lambda s: s.exists(request),
        "readFromFile": lambda s: list(s.readFromFile(request)),
        "writeToFile": lambda s: s.writeToFile(
            iter([pb.WriteToFileRequest(filesystem=filesystem, path=path, buffer=b"x")])
        ),
        "appendToFile": lambda s: s.appendToFile(
            iter([pb.AppendToFileRequest(filesystem=filesystem, path=path, buffer=b"x")])
        ),
        "list": lambda s: list(s.list(pb.ListRequest(filesystem=filesystem, dir=path))),
        "getAttributes": lambda s: s.getAttributes(request),
        "getWorkingDirectory": lambda s: s.getWorkingDirectory(filesystem),
        "setWorkingDirectory": lambda s: s.setWorkingDirectory(request),
        "setPosixFilePermissions": lambda s: s.setPosixFilePermissions(
            pb.SetPosixFilePermissionsRequest(filesystem=filesystem, path=path)
        ),
        "readSymbolicLink": lambda s: s.readSymbolicLink(request),
        "getPathSeparator": lambda s: s.getPathSeparator(filesystem),
        "isOpen": lambda s: s.isOpen(filesystem),
        "waitUntilDone": lambda s: s.waitUntilDone(
            pb.WaitUntilDoneRequest(filesystem=filesystem, copy_operation=copy)
        ),
        "close": lambda s: s.close(filesystem),
    }


@pytest.mark.parametrize("filesystem_id", ["zzz", "", "file://root@/#1"])
@pytest.mark.parametrize("call", sorted(_calls(pb.FileSystem(), pb.FileSystem())))
def test_unknown_file_system_on_every_call(
    fs_stub: pb_grpc.FileSystemServiceStub, fs: FileSystemClient, call: str, filesystem_id: str
) -> None:
    invoke = _calls(pb.FileSystem(id=filesystem_id), fs.filesystem)[call]
    with rpc_error(NOT_FOUND, f"File system with id: {filesystem_id}"):
        invoke(fs_stub)
    assert not (fs.root / "x").exists()


def test_closed_file_system_on_every_call(
    fs_stub: pb_grpc.FileSystemServiceStub, fs: FileSystemClient, new_fs: NewFs
) -> None:
    closed = new_fs(location=str(fs.root))
    fs_stub.close(closed)
    for invoke in _calls(closed, fs.filesystem).values():
        with rpc_error(NOT_FOUND, f"File system with id: {closed.id}"):
            invoke(fs_stub)
    assert list(fs.root.iterdir()) == []


def test_jobs_keep_the_first_working_directory_of_their_schedulers_file_system(
    fs_stub: pb_grpc.FileSystemServiceStub, sched: SchedulerClient, tmp_path: Path
) -> None:
    # As xenon-grpc: setWorkingDirectory on the scheduler's file system moves that file
    # system's relative paths, not its jobs' (they start where the file system started).
    filesystem = sched.stub.getFileSystem(sched.scheduler, timeout=CALL_TIMEOUT)
    try:
        request = pb.PathRequest(filesystem=filesystem, path=pb.Path(path=str(tmp_path)))
        fs_stub.setWorkingDirectory(request, timeout=CALL_TIMEOUT)
        assert fs_stub.getWorkingDirectory(filesystem).path == str(tmp_path)
        status = sched.run("sh", "-c", f"pwd > {tmp_path}/where", working_directory=".")
        assert (status.state, status.exit_code) == ("DONE", 0)
        assert (tmp_path / "where").read_text() == f"{os.getcwd()}\n"
    finally:
        fs_stub.close(filesystem, timeout=CALL_TIMEOUT)
