"""Paths: resolution against the working directory, normalisation, the separator rule, and
getWorkingDirectory / setWorkingDirectory (reference §5.2 and §5.8)."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc

from ._files import FileSystemClient
from ._support import poll_until, rpc_error

UNKNOWN = grpc.StatusCode.UNKNOWN


def test_relative_paths_start_at_the_working_directory(fs: FileSystemClient) -> None:
    fs.create_directory("d")
    assert (fs.root / "d").is_dir()
    fs.create_file("d/f")
    assert (fs.root / "d" / "f").is_file()
    assert fs.exists("d/f")
    assert fs.attributes("d/f").path.path == str(fs.root / "d" / "f")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("d/sub", "d/sub"),
        ("./d//sub/", "d/sub"),
        ("d/./sub/../sub", "d/sub"),
        ("d/sub/..", "d"),
        ("", ""),
        (".", ""),
        ("d/../d/sub/./", "d/sub"),
    ],
)
def test_results_are_absolute_and_normalised(
    fs: FileSystemClient, given: str, expected: str
) -> None:
    (fs.root / "d" / "sub").mkdir(parents=True)
    want = str(fs.root / expected) if expected else str(fs.root)
    assert fs.attributes(given).path == pb.Path(path=want, separator="")
    absolute = f"/{fs.root}//{given}/"
    assert fs.attributes(absolute).path == pb.Path(path=want, separator="")


@pytest.mark.parametrize(
    ("given", "expected"),
    [("/..", "/.."), ("/../tmp", "/../tmp"), ("/tmp/../..", "/.."), ("/../../tmp/..", "/../..")],
)
def test_dot_dot_above_the_root_is_kept(fs: FileSystemClient, given: str, expected: str) -> None:
    # As xenon-grpc: a ".." with no name before it to remove stays (the OS reads "/.." as "/").
    assert fs.attributes(given).path == pb.Path(path=expected, separator="")
    up = "/".join([".."] * (len(fs.root.parts) - 1 + 2))  # two above the root
    assert fs.attributes(up).path == pb.Path(path="/../..", separator="")
    assert fs.attributes(up).is_directory


def test_every_returned_path_has_an_empty_separator(fs: FileSystemClient) -> None:
    (fs.root / "d").mkdir()
    (fs.root / "d" / "f").touch()
    os.symlink("f", fs.root / "d" / "lnk")
    assert fs.working_directory() == pb.Path(path=str(fs.root), separator="")
    assert fs.read_link("d//lnk") == pb.Path(path=str(fs.root / "d" / "f"), separator="")
    entries = fs.listing("./d/", recursive=True)
    assert sorted(e.path.path for e in entries) == [
        str(fs.root / "d" / "f"),
        str(fs.root / "d" / "lnk"),
    ]
    assert {e.path.separator for e in entries} == {""}


@pytest.mark.parametrize(
    ("given", "separator", "created"),
    [
        ("p\\q", "\\", "p/q"),
        ("x:y", ":", "x/y"),
        ("a\\\\b\\", "\\", "a/b"),
        ("p/q", "", "p/q"),
        ("p/q", "/", "p/q"),
        ("pXXq", "XY", "p/q"),  # only the first character of a longer separator counts
    ],
)
def test_the_separator_of_a_request_is_honoured(
    fs: FileSystemClient, given: str, separator: str, created: str
) -> None:
    fs.create_directories(given, separator)
    assert (fs.root / created).is_dir()
    assert fs.exists(given, separator)
    assert fs.attributes(given, separator).path == pb.Path(
        path=str(fs.root / created), separator=""
    )


@pytest.mark.parametrize(("given", "separator"), [("x:y/z", ":"), ("/v", "\\"), ("x/y", "\\")])
def test_a_name_with_a_slash_is_refused_with_another_separator(
    fs: FileSystemClient, given: str, separator: str
) -> None:
    element = next(name for name in given.split(separator) if "/" in name)
    details = f"java.lang.IllegalArgumentException: Path element {element} contains separator '/'"
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, details):
        fs.create_directories(given, separator)
    assert list(fs.root.iterdir()) == []


@pytest.mark.embedded_only  # xenon-grpc would create directories named "\tmp\..." in "/"
def test_an_absolute_path_starts_with_the_separator(fs: FileSystemClient) -> None:
    windowsy = str(fs.root).replace("/", "\\") + "\\w"
    fs.create_directories(windowsy, "\\")
    assert (fs.root / "w").is_dir()


def test_exists_for_dot_paths(fs: FileSystemClient) -> None:
    assert fs.exists("")
    assert fs.exists(".")
    assert fs.exists("..")
    assert not fs.exists("nope")
    assert fs.exists("nope/..")  # ".." is resolved by name: "nope" need not exist


# Working directory --------------------------------------------------------------------------


def test_working_directory_starts_at_the_location(fs: FileSystemClient) -> None:
    assert fs.working_directory() == pb.Path(path=str(fs.root), separator="")


def test_set_working_directory(
    fs_stub: pb_grpc.FileSystemServiceStub, fs: FileSystemClient
) -> None:
    (fs.root / "a" / "b").mkdir(parents=True)
    fs.set_working_directory("a")
    assert fs.working_directory().path == str(fs.root / "a")
    fs.set_working_directory("b/")
    assert fs.working_directory().path == str(fs.root / "a" / "b")
    fs.set_working_directory("..")
    assert fs.working_directory().path == str(fs.root / "a")
    fs.set_working_directory(f"{fs.root}//a/./b/../b/")
    assert fs.working_directory().path == str(fs.root / "a" / "b")
    # Relative paths now start there; the location does not change.
    fs.create_file("here")
    assert (fs.root / "a" / "b" / "here").is_file()
    assert fs_stub.getLocation(fs.filesystem).location == str(fs.root)


def test_set_working_directory_to_a_link(fs: FileSystemClient) -> None:
    # As xenon-grpc (the reference is silent): a link, even to a directory, is refused.
    (fs.root / "real").mkdir()
    os.symlink(fs.root / "real", fs.root / "lnk")
    with rpc_error(UNKNOWN, ""):
        fs.set_working_directory("lnk")
    assert fs.working_directory().path == str(fs.root)


@pytest.mark.parametrize("target", ["missing", "file", "dangling"])
def test_set_working_directory_to_a_missing_path_or_a_file(
    fs: FileSystemClient, target: str
) -> None:
    (fs.root / "file").touch()
    os.symlink(fs.root / "nowhere", fs.root / "dangling")
    with rpc_error(UNKNOWN, ""):
        fs.set_working_directory(target)
    assert fs.working_directory().path == str(fs.root)


def test_working_directories_are_per_file_system(
    fs: FileSystemClient, new_fs: object, fs_stub: pb_grpc.FileSystemServiceStub, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    other = fs_stub.create(pb.CreateFileSystemRequest(adaptor="file", location=str(tmp_path)))
    try:
        fs.set_working_directory("a")
        assert fs_stub.getWorkingDirectory(other).path == str(tmp_path)
    finally:
        fs_stub.close(other)


def test_a_nul_character_is_an_invalid_path(fs: FileSystemClient) -> None:
    # As Java's own path check words it (the absolute path after "//"); the server serves on.
    details = f"java.nio.file.InvalidPathException: Nul character not allowed: //{fs.root}/a\0b"
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    with rpc_error(invalid, details):
        fs.exists("a\0b")
    with rpc_error(invalid, details):
        fs.attributes("./x/../a\0b")
    with rpc_error(invalid, details):
        fs.write("a\0b", b"data")
    with rpc_error(invalid, details):
        fs.listing("a\0b")
    # A copy is accepted, and fails.
    (fs.root / "f").touch()
    waited = fs.wait(fs.copy("a\0b", "c"))
    message = f"file adaptor: Nul character not allowed: //{fs.root}/a\0b"
    assert (waited.state, waited.error_type, waited.error_message) == (
        "FAILED",
        pb.CopyStatus.XENON,
        message,
    )
    copy_id = fs.copy("f", "c\0d")
    polled = poll_until(lambda: (s := fs.status(copy_id)).done and s, what="the copy to fail")
    wrapped = (
        "file adaptor: java.nio.file.InvalidPathException: Nul character not allowed: "
        f"//{fs.root}/c\0d"
    )
    assert (polled.state, polled.error_type, polled.error_message) == (
        "FAILED",
        pb.CopyStatus.XENON,
        wrapped,
    )
    assert fs.exists(".")
    assert list(fs.root.iterdir()) == [fs.root / "f"]
