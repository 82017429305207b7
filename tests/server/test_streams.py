"""readFromFile, writeToFile and appendToFile (reference §5.6 and §5.7)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc

from ._files import XENON_FS, FileSystemClient, Upload
from ._support import CALL_TIMEOUT, poll_until, rpc_error

NOT_FOUND = grpc.StatusCode.NOT_FOUND
ALREADY_EXISTS = grpc.StatusCode.ALREADY_EXISTS
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
INTERNAL = grpc.StatusCode.INTERNAL
MIB = 1024 * 1024
PIECE = 256 * 1024


def no_such_path(path: object) -> str:
    return f"{XENON_FS}NoSuchPathException: file adaptor: Path does not exist: {path}"


def not_a_file(path: object) -> str:
    return f"{XENON_FS}InvalidPathException: file adaptor: Path is not a file: {path}"


def already_exists(path: object) -> str:
    return f"{XENON_FS}PathAlreadyExistsException: file adaptor: Path already exists: {path}"


# readFromFile -------------------------------------------------------------------------------


def test_read_a_small_file(fs: FileSystemClient) -> None:
    (fs.root / "f").write_bytes(b"hello")
    assert fs.read("f") == [b"hello", b""]


def test_read_an_empty_file(fs: FileSystemClient) -> None:
    (fs.root / "empty").touch()
    assert fs.read("empty") == [b""]  # exactly one empty message, as the real server sends


def test_a_file_comes_in_pieces_that_any_client_can_receive(fs: FileSystemClient) -> None:
    # The real server sends the whole file as one message (then an empty one), which a client
    # with default options (4 MiB) cannot receive; here it comes in pieces of 256 KiB.
    data = os.urandom(5 * MIB + 123)
    (fs.root / "big").write_bytes(data)
    messages = fs.read("big")  # over the session's channel, created with default options
    assert b"".join(messages) == data
    assert messages[-1] == b""
    assert [len(m) for m in messages[:-1]] == [PIECE] * 20 + [123]


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_read_what_is_not_a_file(fs: FileSystemClient, kind: str) -> None:
    # A FIFO is not read (it could block the server forever): decision, the reference is silent.
    if kind == "directory":
        (fs.root / "it").mkdir()
    else:
        os.mkfifo(fs.root / "it")
    with rpc_error(FAILED_PRECONDITION, not_a_file(fs.root / "it")):
        fs.read("it")


def test_read_a_missing_file(fs: FileSystemClient) -> None:
    with rpc_error(NOT_FOUND, no_such_path(fs.root / "nope")):
        fs.read("nope")


@pytest.mark.parametrize("target", ["target", "nowhere"])
def test_a_link_is_not_a_file_to_read_or_append_to(fs: FileSystemClient, target: str) -> None:
    # As xenon-grpc (the reference is silent): a link, even to a file, is not followed.
    (fs.root / "target").write_bytes(b"data")
    os.symlink(fs.root / target, fs.root / "lnk")
    with rpc_error(FAILED_PRECONDITION, not_a_file(fs.root / "lnk")):
        fs.read("lnk")
    with rpc_error(FAILED_PRECONDITION, not_a_file(fs.root / "lnk")):
        fs.append("lnk", b"more")
    assert (fs.root / "target").read_bytes() == b"data"
    assert not (fs.root / "nowhere").exists()


def test_a_client_that_stops_reading_leaves_nothing_open(
    fs: FileSystemClient, fs_stub: pb_grpc.FileSystemServiceStub
) -> None:
    path = fs.root / "big"
    path.write_bytes(b"x" * (64 * MIB))
    call: Any = fs_stub.readFromFile(fs.request("big"), timeout=CALL_TIMEOUT)
    assert len(next(call).buffer) == PIECE
    assert fs.open_descriptors(path)  # the server is reading it
    call.cancel()
    poll_until(fs.closed(path), what="the server to close the file")
    assert fs.read("big")[0] == b"x" * PIECE  # and it serves on


# writeToFile --------------------------------------------------------------------------------


def test_write_framing(fs: FileSystemClient) -> None:
    first = pb.WriteToFileRequest(filesystem=fs.filesystem, path=fs.path("a"), buffer=b"he")
    later = [
        pb.WriteToFileRequest(buffer=b"ll"),
        pb.WriteToFileRequest(filesystem=fs.filesystem, path=fs.path("b"), buffer=b"o"),
        pb.WriteToFileRequest(buffer=b""),
        pb.WriteToFileRequest(buffer=b" world"),
    ]
    assert fs.stub.writeToFile(iter([first, *later]), timeout=CALL_TIMEOUT) == pb.Empty()
    assert (fs.root / "a").read_bytes() == b"hello world"  # a later path is ignored
    assert not (fs.root / "b").exists()


def test_write_many_pieces(fs: FileSystemClient) -> None:
    data = os.urandom(3 * MIB + 17)
    pieces = [data[start : start + 65536] for start in range(0, len(data), 65536)]
    fs.write("f", *pieces)
    assert (fs.root / "f").read_bytes() == data
    tiny = [bytes([n % 256]) for n in range(1000)]
    fs.write("tiny", *tiny)
    assert (fs.root / "tiny").read_bytes() == b"".join(tiny)


def test_write_with_no_data_in_the_first_message(fs: FileSystemClient) -> None:
    fs.write("f", b"", b"data")
    assert (fs.root / "f").read_bytes() == b"data"
    fs.write("empty")  # one message, no data: an empty file
    assert (fs.root / "empty").read_bytes() == b""


def test_write_with_no_message_creates_nothing(fs: FileSystemClient) -> None:
    assert fs.stub.writeToFile(iter([]), timeout=CALL_TIMEOUT) == pb.Empty()
    assert list(fs.root.iterdir()) == []


@pytest.mark.parametrize(("size", "data"), [(6, b"abcdef"), (2, b"abcdef"), (100, b"abc")])
def test_write_size_is_ignored(fs: FileSystemClient, size: int, data: bytes) -> None:
    fs.write("f", data, size=size)
    assert (fs.root / "f").read_bytes() == data


@pytest.mark.parametrize("kind", ["file", "directory", "dangling link"])
def test_write_what_exists(fs: FileSystemClient, kind: str) -> None:
    path = fs.root / "there"
    if kind == "file":
        path.write_bytes(b"old")
    elif kind == "directory":
        path.mkdir()
    else:
        os.symlink(fs.root / "nowhere", path)
    with rpc_error(ALREADY_EXISTS, already_exists(path)):
        fs.write("there", b"new")
    if kind == "file":
        assert path.read_bytes() == b"old"
    assert not (fs.root / "nowhere").exists()


def test_write_without_the_parent(fs: FileSystemClient) -> None:
    details = "nl.esciencecenter.xenon.XenonException: file adaptor: Failed to create OutputStream."
    with rpc_error(INTERNAL, details):
        fs.write("missing/f", b"data")
    assert not (fs.root / "missing").exists()


def test_a_message_of_4_mib_or_more_is_refused(fs: FileSystemClient) -> None:
    # Same limit as the real server, which resets the stream (CANCELLED "Stream removed").
    first = pb.WriteToFileRequest(
        filesystem=fs.filesystem, path=fs.path("f"), buffer=b"x" * (4 * MIB)
    )
    details = f"SERVER: Received message larger than max ({first.ByteSize()} vs. 4194304)"
    with rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, details):
        fs.stub.writeToFile(iter([first]), timeout=CALL_TIMEOUT)
    assert not (fs.root / "f").exists()
    fs.write("g", b"x" * (4 * MIB - 1024))  # just under the limit is fine
    assert (fs.root / "g").stat().st_size == 4 * MIB - 1024


def test_a_cancelled_write_leaves_what_arrived(fs: FileSystemClient) -> None:
    # As on the real server, the data that arrived before the client cancelled stays; the
    # file is closed and the server serves on.
    path = fs.root / "partial"
    first = pb.WriteToFileRequest(filesystem=fs.filesystem, path=fs.path("partial"))
    first.buffer = b"a" * MIB
    upload = Upload(fs.stub.writeToFile, first)
    poll_until(lambda: path.exists() and path.stat().st_size == MIB, what="the first MiB")
    upload.send(pb.WriteToFileRequest(buffer=b"b" * 10))
    upload.cancel()
    poll_until(fs.closed(path), what="the server to close the file")
    assert path.read_bytes() in (b"a" * MIB, b"a" * MIB + b"b" * 10)
    assert fs.exists("partial")


# appendToFile -------------------------------------------------------------------------------


def test_append(fs: FileSystemClient) -> None:
    (fs.root / "f").write_bytes(b"abc")
    assert fs.append("f", b"def", b"gh") == pb.Empty()
    assert (fs.root / "f").read_bytes() == b"abcdefgh"
    fs.append("f", b"", b"i")
    assert (fs.root / "f").read_bytes() == b"abcdefghi"
    first = pb.AppendToFileRequest(filesystem=fs.filesystem, path=fs.path("f"), buffer=b"j")
    later = pb.AppendToFileRequest(filesystem=fs.filesystem, path=fs.path("other"), buffer=b"k")
    fs.stub.appendToFile(iter([first, later]), timeout=CALL_TIMEOUT)
    assert (fs.root / "f").read_bytes() == b"abcdefghijk"
    assert not (fs.root / "other").exists()


def test_append_errors(fs: FileSystemClient) -> None:
    with rpc_error(NOT_FOUND, no_such_path(fs.root / "missing")):
        fs.append("missing", b"data")
    assert not (fs.root / "missing").exists()
    (fs.root / "d").mkdir()
    with rpc_error(FAILED_PRECONDITION, not_a_file(fs.root / "d")):
        fs.append("d", b"data")
    os.mkfifo(fs.root / "fifo")  # decision: not a file, and never blocks the server
    with rpc_error(FAILED_PRECONDITION, not_a_file(fs.root / "fifo")):
        fs.append("fifo", b"data")


def test_append_with_no_message(fs: FileSystemClient) -> None:
    assert fs.stub.appendToFile(iter([]), timeout=CALL_TIMEOUT) == pb.Empty()
    assert list(fs.root.iterdir()) == []


def test_a_cancelled_append_leaves_what_arrived(fs: FileSystemClient) -> None:
    path: Path = fs.root / "f"
    path.write_bytes(b"start")
    first = pb.AppendToFileRequest(filesystem=fs.filesystem, path=fs.path("f"), buffer=b"a" * MIB)
    upload = Upload(fs.stub.appendToFile, first)
    poll_until(lambda: path.stat().st_size == 5 + MIB, what="the first MiB")
    upload.cancel()
    poll_until(fs.closed(path), what="the server to close the file")
    assert path.read_bytes() == b"start" + b"a" * MIB


def test_an_upload_fed_slowly_works(fs: FileSystemClient) -> None:
    first = pb.WriteToFileRequest(filesystem=fs.filesystem, path=fs.path("f"), buffer=b"1")
    upload = Upload(fs.stub.writeToFile, first)
    for digit in b"23456789":
        upload.send(pb.WriteToFileRequest(buffer=bytes([digit])))
    assert upload.finish() == pb.Empty()
    assert (fs.root / "f").read_bytes() == b"123456789"
