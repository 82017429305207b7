"""copy, getStatus, waitUntilDone and cancel (reference §5.9).

Copies that must still be running when the test looks at them copy a 2 GiB sparse file (a
second or more of work) and are cancelled once the test has seen what it needs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb
from rxxenon._proto import xenon_pb2_grpc as pb_grpc

from ._files import XENON_FS, FileSystemClient, no_descriptors_on, sparse_file
from ._support import poll_until, rpc_error

INTERNAL = grpc.StatusCode.INTERNAL
CREATE = pb.CopyRequest.CREATE
REPLACE = pb.CopyRequest.REPLACE
IGNORE = pb.CopyRequest.IGNORE
Error = pb.CopyStatus.ErrorType
BIG = 2 * 1024**3

NewFs = Callable[..., pb.FileSystem]


def no_such_copy(copy_id: str) -> str:
    return f"{XENON_FS}NoSuchCopyException: file adaptor: Copy not found: {copy_id}"


def final(status: pb.CopyStatus) -> tuple[str, bool, bool, int, str]:
    return (
        status.state,
        status.done,
        status.running,
        status.error_type,
        status.error_message,
    )


def done_by_polling(fs: FileSystemClient, copy_id: str) -> pb.CopyStatus:
    """Poll getStatus until the copy is done; that final status (the copy is then forgotten)."""

    def finished() -> pb.CopyStatus | None:
        status = fs.status(copy_id)
        return status if status.done else None

    status = poll_until(finished, what=f"{copy_id} done")
    assert status is not None
    return status


def start_big_copy(fs: FileSystemClient, destination: str = "big-copy") -> str:
    """Start copying a 2 GiB sparse file; return once bytes are being copied."""
    if not (fs.root / "big").exists():
        sparse_file(fs.root / "big", BIG)
    copy_id = fs.copy("big", destination)
    poll_until(lambda: fs.status(copy_id).bytes_copied > 0, what=f"{copy_id} to copy bytes")
    return copy_id


def test_ids_count_per_file_system(fs: FileSystemClient, new_fs: NewFs) -> None:
    (fs.root / "f").write_bytes(b"abcdef")
    assert [fs.copy("f", f"c{n}") for n in range(3)] == [
        "COPY-file-0",
        "COPY-file-1",
        "COPY-file-2",
    ]
    other = FileSystemClient(fs.stub, new_fs(location=str(fs.root)), fs.root)
    assert other.copy("f", "d0") == "COPY-file-0"
    for copy_id in ("COPY-file-0", "COPY-file-1", "COPY-file-2"):
        fs.wait(copy_id)
    other.wait("COPY-file-0")


def test_copy_a_file(fs: FileSystemClient) -> None:
    # bytes_to_copy is the file's size (the real server says 0 for a single file).
    (fs.root / "f").write_bytes(b"abcdef")
    copy_id = fs.copy("f", "g")
    status = fs.wait(copy_id, 10_000)  # returns as soon as the copy is done
    assert status.copy_operation.id == copy_id
    assert final(status) == ("DONE", True, False, Error.NONE, "")
    assert (status.bytes_copied, status.bytes_to_copy) == (6, 6)
    assert (fs.root / "g").read_bytes() == b"abcdef"
    with rpc_error(INTERNAL, no_such_copy(copy_id)):  # forgotten once read
        fs.wait(copy_id)


def test_copy_read_by_polling(fs: FileSystemClient) -> None:
    (fs.root / "f").write_bytes(b"abcdef")
    copy_id = fs.copy("f", "g")
    status = done_by_polling(fs, copy_id)
    assert final(status) == ("DONE", True, False, Error.NONE, "")
    assert status.bytes_copied == 6
    with rpc_error(INTERNAL, no_such_copy(copy_id)):
        fs.status(copy_id)


def test_create_onto_an_existing_destination(fs: FileSystemClient) -> None:
    (fs.root / "f").write_bytes(b"abcdef")
    (fs.root / "g").write_bytes(b"old")
    message = f"Destination path already exists: {fs.root}/g"
    waited = fs.wait(fs.copy("f", "g", CREATE))
    assert final(waited) == (
        "FAILED",
        True,
        False,
        Error.ALREADY_EXISTS,
        f"file adaptor: {message}",
    )
    polled = done_by_polling(fs, fs.copy("f", "g", CREATE))
    wrapped = f"file adaptor: {XENON_FS}PathAlreadyExistsException: file adaptor: {message}"
    assert final(polled) == ("FAILED", True, False, Error.XENON, wrapped)
    assert (fs.root / "g").read_bytes() == b"old"


def test_replace_an_existing_destination(fs: FileSystemClient) -> None:
    (fs.root / "f").write_bytes(b"abcdef")
    (fs.root / "g").write_bytes(b"old content, longer")
    status = fs.wait(fs.copy("f", "g", REPLACE))
    assert final(status) == ("DONE", True, False, Error.NONE, "")
    assert (fs.root / "g").read_bytes() == b"abcdef"


def test_ignore_an_existing_destination(fs: FileSystemClient) -> None:
    (fs.root / "f").write_bytes(b"abcdef")
    (fs.root / "g").write_bytes(b"old")
    status = fs.wait(fs.copy("f", "g", IGNORE))
    assert final(status) == ("DONE", True, False, Error.NONE, "")
    assert status.bytes_copied == 0
    assert (fs.root / "g").read_bytes() == b"old"
    status = fs.wait(fs.copy("f", "new", IGNORE))  # nothing there: copied
    assert (fs.root / "new").read_bytes() == b"abcdef"


def test_copy_a_missing_source(fs: FileSystemClient) -> None:
    message = f"file adaptor: No such file {fs.root}/missing"
    waited = fs.wait(fs.copy("missing", "g"))
    assert final(waited) == ("FAILED", True, False, Error.NOT_FOUND, message)
    polled = done_by_polling(fs, fs.copy("missing", "g"))
    wrapped = f"file adaptor: {XENON_FS}NoSuchPathException: {message}"
    assert final(polled) == ("FAILED", True, False, Error.XENON, wrapped)
    assert not (fs.root / "g").exists()


def test_copy_a_directory_without_recursive(fs: FileSystemClient) -> None:
    (fs.root / "d").mkdir()
    message = f"file adaptor: Source path is a directory: {fs.root}/d"
    waited = fs.wait(fs.copy("d", "e"))
    assert final(waited) == ("FAILED", True, False, Error.XENON, message)
    polled = done_by_polling(fs, fs.copy("d", "e"))
    wrapped = f"file adaptor: {XENON_FS}InvalidPathException: {message}"
    assert final(polled) == ("FAILED", True, False, Error.XENON, wrapped)
    assert not (fs.root / "e").exists()


def test_copy_a_directory_recursively(fs: FileSystemClient) -> None:
    (fs.root / "d" / "sub").mkdir(parents=True)
    (fs.root / "d" / "a").write_bytes(b"123456")
    (fs.root / "d" / "sub" / "b").write_bytes(b"abcdef")
    status = fs.wait(fs.copy("d", "e", recursive=True))
    assert final(status) == ("DONE", True, False, Error.NONE, "")
    assert (status.bytes_copied, status.bytes_to_copy) == (12, 12)
    assert (fs.root / "e" / "a").read_bytes() == b"123456"
    assert (fs.root / "e" / "sub" / "b").read_bytes() == b"abcdef"


def test_copy_a_directory_onto_an_existing_one(fs: FileSystemClient) -> None:
    (fs.root / "d").mkdir()
    (fs.root / "d" / "a").write_bytes(b"new")
    (fs.root / "e").mkdir()
    (fs.root / "e" / "a").write_bytes(b"old")
    (fs.root / "e" / "keep").write_bytes(b"keep")
    message = f"file adaptor: Destination path already exists: {fs.root}/e"
    status = fs.wait(fs.copy("d", "e", CREATE, recursive=True))
    assert final(status) == ("FAILED", True, False, Error.ALREADY_EXISTS, message)
    # Decisions (the reference is silent): IGNORE leaves it, REPLACE merges into it.
    assert fs.wait(fs.copy("d", "e", IGNORE, recursive=True)).bytes_copied == 0
    assert (fs.root / "e" / "a").read_bytes() == b"old"
    assert fs.wait(fs.copy("d", "e", REPLACE, recursive=True)).state == "DONE"
    assert (fs.root / "e" / "a").read_bytes() == b"new"
    assert (fs.root / "e" / "keep").read_bytes() == b"keep"


@pytest.mark.parametrize("recursive", [False, True])
def test_copy_without_the_destination_parent(fs: FileSystemClient, recursive: bool) -> None:
    (fs.root / "d").mkdir()
    (fs.root / "f").touch()
    source = "d" if recursive else "f"
    status = fs.wait(fs.copy(source, "missing/x", recursive=recursive))
    message = f"file adaptor: Path does not exist: {fs.root}/missing"
    assert final(status) == ("FAILED", True, False, Error.NOT_FOUND, message)


def test_relative_destination_is_on_the_source_working_directory(
    fs: FileSystemClient, new_fs: NewFs, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    destination = FileSystemClient(fs.stub, new_fs(location=str(elsewhere)), elsewhere)
    (fs.root / "f").write_bytes(b"abcdef")
    copy_id = fs.copy("f", "other.txt", destination_filesystem=destination.filesystem)
    with rpc_error(INTERNAL, no_such_copy(copy_id)):  # only the source knows the copy
        destination.status(copy_id)
    assert fs.wait(copy_id).state == "DONE"
    assert (fs.root / "other.txt").read_bytes() == b"abcdef"
    assert not (elsewhere / "other.txt").exists()


@pytest.mark.parametrize("call", ["status", "wait", "cancel"])
def test_unknown_copy(fs: FileSystemClient, call: str) -> None:
    for copy_id in ("COPY-file-99", "", "garbage"):
        with rpc_error(INTERNAL, no_such_copy(copy_id)):
            getattr(fs, call)(copy_id)


# Running copies: queueing, waiting, cancelling ----------------------------------------------


def test_copies_run_one_at_a_time_in_order(fs: FileSystemClient) -> None:
    # States are the true ones: the real server's getStatus says PENDING for a running copy,
    # and its waitUntilDone says RUNNING for a queued one.
    (fs.root / "small").write_bytes(b"abcdef")
    big = start_big_copy(fs)
    second = fs.copy("small", "small-copy")
    third = fs.copy("small", "small-copy-2")
    try:
        running = fs.status(big)
        assert (running.state, running.running, running.done) == ("RUNNING", True, False)
        assert running.bytes_to_copy == BIG
        assert 0 < running.bytes_copied < BIG
        pending = fs.status(second)
        assert (pending.state, pending.running, pending.done) == ("PENDING", False, False)
        assert (pending.bytes_copied, pending.bytes_to_copy) == (0, 0)
        waited = fs.wait(third, 50)  # timed out: the status as it is, not an error
        assert (waited.state, waited.done) == ("PENDING", False)
        assert not (fs.root / "small-copy").exists()
    finally:
        fs.cancel(big)
    assert fs.wait(second).state == "DONE"
    assert fs.wait(third).state == "DONE"


def test_wait_with_timeout_0_returns_at_once(fs: FileSystemClient) -> None:
    big = start_big_copy(fs)
    started = time.monotonic()
    status = fs.wait(big, 0)
    assert time.monotonic() - started < 1.0  # the copy itself takes longer
    assert (status.state, status.running, status.done) == ("RUNNING", True, False)
    assert not fs.status(big).done  # not forgotten
    fs.cancel(big)


def test_cancel_a_running_copy_leaves_the_partial_file(fs: FileSystemClient) -> None:
    big = start_big_copy(fs)
    status = fs.cancel(big)
    message = "file adaptor: Copy cancelled by user"
    assert final(status) == ("FAILED", True, False, Error.CANCELLED, message)
    partial = fs.root / "big-copy"
    poll_until(fs.closed(partial), what="the copy to close its files")
    # (The real server counts a piece after writing it, so its count may lag the file.)
    assert 0 < status.bytes_copied <= partial.stat().st_size < BIG
    with rpc_error(INTERNAL, no_such_copy(big)):  # forgotten after the cancel reply
        fs.status(big)


def test_cancel_a_queued_copy(fs: FileSystemClient) -> None:
    (fs.root / "small").write_bytes(b"abcdef")
    big = start_big_copy(fs)
    queued = fs.copy("small", "never")
    status = fs.cancel(queued)
    message = "file adaptor: Copy cancelled by user"
    assert final(status) == ("FAILED", True, False, Error.CANCELLED, message)
    assert status.bytes_copied == 0
    with rpc_error(INTERNAL, no_such_copy(queued)):
        fs.wait(queued)
    fs.cancel(big)
    after = fs.copy("small", "after")  # the queue goes on
    assert fs.wait(after).state == "DONE"
    assert not (fs.root / "never").exists()


def test_cancel_a_finished_copy(fs: FileSystemClient) -> None:
    # As xenon-grpc (the reference is silent): its final status, worded as getStatus words it.
    (fs.root / "f").write_bytes(b"abcdef")
    done = fs.copy("f", "g")
    failed = fs.copy("missing", "h")
    fs.wait(fs.copy("f", "sync"))  # the queue is in order: both are done now
    assert final(fs.cancel(done)) == ("DONE", True, False, Error.NONE, "")
    message = (
        f"file adaptor: {XENON_FS}NoSuchPathException: file adaptor: No such file {fs.root}/missing"
    )
    assert final(fs.cancel(failed)) == ("FAILED", True, False, Error.XENON, message)
    with rpc_error(INTERNAL, no_such_copy(done)):
        fs.cancel(done)


# Decisions where the reference is silent ----------------------------------------------------


def test_a_recursive_copy_copies_directories_and_files_only(fs: FileSystemClient) -> None:
    # As xenon-grpc (the reference is silent): links, FIFOs, ... in the tree are skipped.
    (fs.root / "d" / "sub").mkdir(parents=True)
    (fs.root / "d" / "f").write_bytes(b"abc")
    os.symlink("f", fs.root / "d" / "relative")
    os.symlink("/nowhere", fs.root / "d" / "dangling")
    os.symlink(fs.root / "d" / "sub", fs.root / "d" / "to-sub")
    os.mkfifo(fs.root / "d" / "fifo")
    status = fs.wait(fs.copy("d", "e", recursive=True))
    assert (status.state, status.bytes_copied, status.bytes_to_copy) == ("DONE", 3, 3)
    assert sorted(os.listdir(fs.root / "e")) == ["f", "sub"]
    assert (fs.root / "e" / "f").read_bytes() == b"abc"


@pytest.mark.parametrize(
    ("target", "expected"),
    [("f", "{root}/f"), ("./x/../f", "{root}/f"), ("/nowhere/../x", "/x")],
)
def test_a_link_is_copied_as_a_link(fs: FileSystemClient, target: str, expected: str) -> None:
    # As xenon-grpc (the reference is silent): its target as readSymbolicLink gives it,
    # normalised.
    (fs.root / "f").write_bytes(b"abc")
    os.symlink(target.format(root=fs.root), fs.root / "lnk")
    status = fs.wait(fs.copy("lnk", "g"))
    assert (status.state, status.bytes_copied) == ("DONE", 0)
    assert os.readlink(fs.root / "g") == expected.format(root=fs.root)


def test_copy_a_fifo(fs: FileSystemClient) -> None:
    os.mkfifo(fs.root / "fifo")
    status = fs.wait(fs.copy("fifo", "g"))
    message = f"file adaptor: Source path is not a file, link or directory: {fs.root}/fifo"
    assert final(status) == ("FAILED", True, False, Error.XENON, message)


def test_copy_a_file_onto_itself(fs: FileSystemClient) -> None:
    (fs.root / "f").write_bytes(b"abcdef")
    status = fs.wait(fs.copy("f", "./f", REPLACE))
    assert (status.state, status.bytes_copied) == ("DONE", 0)
    assert (fs.root / "f").read_bytes() == b"abcdef"


@pytest.mark.embedded_only  # stops a server of its own
def test_stopping_the_server_cancels_copies(tmp_path: Path) -> None:
    from rxxenon.server import EmbeddedServer

    with EmbeddedServer() as server, grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.FileSystemServiceStub(channel)
        filesystem = stub.create(pb.CreateFileSystemRequest(adaptor="file", location=str(tmp_path)))
        fs = FileSystemClient(stub, filesystem, tmp_path)
        start_big_copy(fs)
        server.stop()
    poll_until(no_descriptors_on(tmp_path / "big-copy"), what="the copy to stop")
    assert (tmp_path / "big-copy").stat().st_size < BIG
