"""The file-system client against both servers: handles, paths, and streams."""

from __future__ import annotations

import hashlib
import os
import pathlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import reactivex
from reactivex import operators as ops
from reactivex.subject import Subject

import rxxenon
from rxxenon import CopyMode, Path, PosixFilePermission
from tests.helpers import Collector, wait_for


@pytest.fixture
def fs(xenon: rxxenon.Connection, tmp_path: pathlib.Path) -> Iterator[rxxenon.FileSystem]:
    """A ``file`` file system whose working directory is a fresh temporary directory."""
    with xenon.create_file_system("file", location=str(tmp_path)) as file_system:
        yield file_system


def test_adaptors_are_described(xenon: rxxenon.Connection) -> None:
    names = xenon.get_file_system_adaptor_names()
    assert "file" in names  # the embedded server has only this one
    descriptions = xenon.get_file_system_adaptor_descriptions()
    assert [d.name for d in descriptions] == names
    file_adaptor = descriptions[names.index("file")]
    assert file_adaptor == xenon.get_file_system_adaptor_description("file")
    assert file_adaptor.can_append
    assert file_adaptor.supports_rename
    assert not file_adaptor.needs_size_beforehand
    with pytest.raises(rxxenon.UnknownAdaptorError):
        xenon.get_file_system_adaptor_description("local")


def test_create_list_and_close(xenon: rxxenon.Connection, tmp_path: pathlib.Path) -> None:
    with xenon.create_file_system("file", location=str(tmp_path)) as fs:
        assert fs.id.startswith("file://")
        assert fs in xenon.list_file_systems()
        assert fs.get_adaptor_name() == "file"
        assert fs.get_location() == str(tmp_path)
        assert fs.get_working_directory() == Path(tmp_path)
        assert fs.get_path_separator() == "/"
        assert fs.is_open()
        assert isinstance(fs.get_credential(), rxxenon.DefaultCredential)
    assert fs not in xenon.list_file_systems()
    with pytest.raises(rxxenon.NoSuchFileSystemError):
        fs.is_open()
    fs.close()  # harmless twice


def test_local_file_systems_are_rooted(xenon: rxxenon.Connection) -> None:
    roots = xenon.local_file_systems()
    assert [root.get_working_directory() for root in roots] == [Path("/")]
    for root in roots:
        root.close()


def test_create_errors_are_typed(xenon: rxxenon.Connection) -> None:
    with pytest.raises(rxxenon.InvalidLocationError):
        xenon.create_file_system("file", location="relative/dir")
    with pytest.raises(rxxenon.UnknownAdaptorError):
        xenon.create_file_system("local")
    with pytest.raises(rxxenon.InvalidCredentialError):
        xenon.create_file_system("file", credential=rxxenon.PasswordCredential("u", "p"))


def test_working_directory(fs: rxxenon.FileSystem, tmp_path: pathlib.Path) -> None:
    fs.create_directories("a/b")
    fs.set_working_directory("a/b/")
    assert fs.get_working_directory() == Path(tmp_path / "a" / "b")
    fs.set_working_directory("..")
    assert fs.get_working_directory() == Path(tmp_path / "a")
    assert fs.get_location() == str(tmp_path)


def test_directories_files_links_and_paths_of_any_kind(
    fs: rxxenon.FileSystem, tmp_path: pathlib.Path
) -> None:
    fs.create_directory(Path("d"))
    fs.create_directories(tmp_path / "x" / "y")  # os.PathLike
    fs.create_file("d/f.txt")  # str
    assert fs.exists("d/f.txt")
    assert not fs.exists("d/missing")
    with pytest.raises(rxxenon.PathAlreadyExistsError):
        fs.create_file("d/f.txt")
    with pytest.raises(rxxenon.NoSuchPathError) as raised:
        fs.create_directory("no/parent")
    assert raised.value.message == f"file adaptor: Path does not exist: {tmp_path / 'no'}"
    fs.create_symbolic_link("link", "d/f.txt")
    assert fs.read_symbolic_link("link") == Path(tmp_path / "d" / "f.txt")
    with pytest.raises(rxxenon.InvalidPathError):
        fs.read_symbolic_link("d")
    fs.rename("d/f.txt", "d/g.txt")
    assert fs.exists("link")  # a dangling link exists
    with pytest.raises(rxxenon.DirectoryNotEmptyError):
        fs.delete("d")
    fs.delete("d", recursive=True)
    assert not fs.exists("d")


def test_attributes_are_typed(fs: rxxenon.FileSystem, tmp_path: pathlib.Path) -> None:
    (tmp_path / "data.bin").write_bytes(b"12345")
    os.chmod(tmp_path / "data.bin", 0o640)
    attributes = fs.get_attributes("data.bin")
    assert attributes.path == Path(tmp_path / "data.bin")
    assert attributes.size == 5
    assert (attributes.is_regular, attributes.is_directory, attributes.is_symbolic_link) == (
        True,
        False,
        False,
    )
    assert attributes.permissions == {
        PosixFilePermission.OWNER_READ,
        PosixFilePermission.OWNER_WRITE,
        PosixFilePermission.GROUP_READ,
    }
    assert attributes.mode == 0o640
    now = datetime.now(UTC)
    assert now - timedelta(minutes=5) < attributes.last_modified_time <= now + timedelta(seconds=5)
    fs.set_posix_file_permissions("data.bin", {PosixFilePermission.OWNER_READ})
    assert (tmp_path / "data.bin").stat().st_mode & 0o777 == 0o400


def test_read_streams_the_file(fs: rxxenon.FileSystem, tmp_path: pathlib.Path) -> None:
    # Over 4 MiB: xenon-grpc sends it as one message, which the client accepts.
    content = os.urandom((5 << 20) + 123)
    (tmp_path / "blob").write_bytes(content)
    chunks = fs.read("blob").pipe(ops.to_list()).run()
    assert b"".join(chunks) == content
    assert all(chunks)  # no empty chunks
    assert fs.read_bytes("blob") == content
    (tmp_path / "empty").write_bytes(b"")
    assert fs.read_bytes("empty") == b""


def test_read_of_a_missing_file_is_a_typed_error(fs: rxxenon.FileSystem) -> None:
    result = Collector[bytes]()
    fs.read("missing").subscribe(result)
    result.wait()
    assert isinstance(result.error, rxxenon.NoSuchPathError)
    with pytest.raises(rxxenon.InvalidPathError):
        fs.read_bytes(".")


def test_disposing_a_read_mid_stream_cancels_it(
    xenon: rxxenon.Connection, fs: rxxenon.FileSystem, tmp_path: pathlib.Path
) -> None:
    (tmp_path / "big").write_bytes(b"b" * (64 << 20))
    release = threading.Event()
    result = Collector[bytes](on_item=lambda _: release.wait(10))
    before = xenon.rx.active_tasks  # (the session's connection may run other calls)
    subscription = fs.read("big").subscribe(result)
    assert wait_for(lambda: len(result.items) == 1)
    subscription.dispose()
    release.set()
    assert wait_for(lambda: xenon.rx.active_tasks <= before)
    assert sum(len(chunk) for chunk in result.items) < 64 << 20
    assert not result.done.is_set()


def test_write_from_an_observable_an_iterable_or_bytes(
    fs: rxxenon.FileSystem, tmp_path: pathlib.Path
) -> None:
    assert fs.write("a.txt", reactivex.of(b"hello ", b"world")).run() == 11
    assert fs.write("b.txt", (bytes([i]) * 1000 for i in range(10))).run() == 10_000
    # Split into 1 MiB pieces: both servers refuse messages of 4 MiB or more.
    assert fs.write("c.txt", b"x" * (9 << 20)).run() == 9 << 20
    assert fs.write("empty.txt", []).run() == 0
    assert (tmp_path / "a.txt").read_bytes() == b"hello world"
    assert (tmp_path / "b.txt").read_bytes() == b"".join(bytes([i]) * 1000 for i in range(10))
    assert (tmp_path / "c.txt").stat().st_size == 9 << 20
    assert (tmp_path / "empty.txt").read_bytes() == b""
    assert fs.append("a.txt", [b"!"]).run() == 1
    assert (tmp_path / "a.txt").read_bytes() == b"hello world!"


def test_write_is_cold(fs: rxxenon.FileSystem, tmp_path: pathlib.Path) -> None:
    upload = fs.write("once.txt", b"data")
    assert not (tmp_path / "once.txt").exists()  # nothing happens before subscribing
    assert upload.run() == 4
    with pytest.raises(rxxenon.PathAlreadyExistsError):
        upload.run()  # a second subscription is a second write


def test_write_errors_are_typed(fs: rxxenon.FileSystem, tmp_path: pathlib.Path) -> None:
    (tmp_path / "exists.txt").write_bytes(b"old")
    with pytest.raises(rxxenon.PathAlreadyExistsError):
        fs.write("exists.txt", b"new").run()
    assert (tmp_path / "exists.txt").read_bytes() == b"old"
    with pytest.raises(rxxenon.AdaptorError) as raised:
        fs.write("no/parent.txt", b"x").run()
    assert raised.value.message == "file adaptor: Failed to create OutputStream."
    with pytest.raises(rxxenon.NoSuchPathError):
        fs.append("missing.txt", b"x").run()
    assert not (tmp_path / "missing.txt").exists()


def test_a_refused_upload_reports_the_servers_error(
    fs: rxxenon.FileSystem, tmp_path: pathlib.Path
) -> None:
    # xenon-grpc refuses an upload once it has read the first message, while the client may
    # still be writing; grpc.aio then says INTERNAL "Internal error from Core" instead of the
    # server's status, unless the client keeps it (grpc/grpc#36066). A race: try it often.
    (tmp_path / "exists.txt").write_bytes(b"old")
    for pieces in ([b"data"], [b"x" * 1000] * 3, [b"y" * (1 << 20)] * 3) * 10:
        with pytest.raises(rxxenon.PathAlreadyExistsError):
            fs.write("exists.txt", pieces).run()
    assert (tmp_path / "exists.txt").read_bytes() == b"old"


def test_a_write_whose_source_fails_keeps_what_was_written(
    fs: rxxenon.FileSystem, tmp_path: pathlib.Path
) -> None:
    # Like xenon-grpc: the call is cancelled, and what the server wrote so far stays on disk.
    source: Subject[bytes] = Subject()
    result = Collector[int]()
    fs.write("partial.txt", source).subscribe(result)
    sent = os.urandom(3 << 20)
    source.on_next(sent)
    partial = tmp_path / "partial.txt"
    # The server writes what it receives in pieces of about 1 MiB: wait for the first one.
    assert wait_for(lambda: partial.exists() and partial.stat().st_size >= 1 << 20)
    problem = OSError("source failed")
    source.on_error(problem)
    result.wait()
    assert result.error is problem
    kept = partial.read_bytes()
    assert len(kept) >= 1 << 20
    assert sent.startswith(kept)


def test_write_sends_the_size_when_the_adaptor_needs_it(fs: rxxenon.FileSystem) -> None:
    fs._needs_size = True  # as for s3; the file adaptor itself ignores the size
    assert fs.write("sized.txt", b"12345").run() == 5
    with pytest.raises(ValueError, match="size"):
        fs.write("unsized.txt", [b"12345"])
    assert fs.write("given.txt", [b"12345"], size=5).run() == 5


def test_list_streams_attributes(fs: rxxenon.FileSystem, tmp_path: pathlib.Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "top.txt").write_bytes(b"1")
    (tmp_path / "sub" / "inner.txt").write_bytes(b"22")
    top = fs.list(".").pipe(ops.to_list()).run()
    assert sorted(a.path.name for a in top) == ["sub", "top.txt"]
    everything = fs.list(tmp_path, recursive=True).pipe(ops.to_list()).run()
    names = [str(a.path.relative_to(tmp_path)) for a in everything]
    assert sorted(names) == ["sub", "sub/deeper", "sub/inner.txt", "top.txt"]
    assert set(names[:2]) == {"sub", "top.txt"}  # the directory's own entries come first
    with pytest.raises(rxxenon.InvalidPathError):
        fs.list("top.txt").run()
    with pytest.raises(rxxenon.NoSuchPathError):
        fs.list("nope").run()


def test_copy_with_progress(fs: rxxenon.FileSystem, tmp_path: pathlib.Path) -> None:
    content = os.urandom(5 << 20)
    (tmp_path / "src.bin").write_bytes(content)
    operation = fs.copy("src.bin", "dst.bin")
    statuses = operation.progress().pipe(ops.to_list()).run()
    assert statuses[-1].done
    assert statuses[-1].succeeded
    assert statuses[-1].bytes_copied == len(content)
    assert (tmp_path / "dst.bin").read_bytes() == content
    assert operation.wait() == statuses[-1]  # the final status is kept, not read again


def test_copy_errors_are_typed(fs: rxxenon.FileSystem, tmp_path: pathlib.Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    with pytest.raises(rxxenon.PathAlreadyExistsError):
        fs.copy("a", "b").wait(timeout=30)
    failed = Collector[rxxenon.CopyStatus]()
    fs.copy("missing", "c").progress().subscribe(failed)
    failed.wait()
    assert isinstance(failed.error, rxxenon.NoSuchPathError)
    assert failed.items[-1].error_type is rxxenon.CopyErrorType.NOT_FOUND
    assert fs.copy("a", "b", mode=CopyMode.REPLACE).wait(timeout=30).succeeded
    assert (tmp_path / "b").read_bytes() == b"a"
    assert fs.copy("a", "b", mode=CopyMode.IGNORE).wait(timeout=30).bytes_copied == 0


def test_copy_recursive_to_another_file_system(
    xenon: rxxenon.Connection, fs: rxxenon.FileSystem, tmp_path: pathlib.Path
) -> None:
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "one").write_bytes(b"111111")
    (tmp_path / "tree" / "sub" / "two").write_bytes(b"222222")
    target = tmp_path / "elsewhere"
    target.mkdir()
    with xenon.create_file_system("file", location=str(target)) as other:
        status = fs.copy(
            "tree", target / "tree", destination_file_system=other, recursive=True
        ).wait(timeout=30)
    assert status.bytes_copied == 12
    assert (target / "tree" / "sub" / "two").read_bytes() == b"222222"


def test_cancel_a_copy(fs: rxxenon.FileSystem, tmp_path: pathlib.Path) -> None:
    (tmp_path / "big").write_bytes(b"c" * (256 << 20))
    operation = fs.copy("big", "big.copy")
    status = operation.cancel()
    assert status.done
    assert status.error_type is rxxenon.CopyErrorType.CANCELLED
    with pytest.raises(rxxenon.CancelledError):
        operation.wait()


def test_200_mb_write_then_read_round_trip(fs: rxxenon.FileSystem) -> None:
    block = os.urandom(1 << 20)
    blocks = 200
    written = hashlib.sha256()

    def generate() -> Iterator[bytes]:
        for i in range(blocks):
            chunk = block[i:] + block[:i]
            written.update(chunk)
            yield chunk

    assert fs.write("round-trip.bin", generate()).run() == blocks << 20
    read = hashlib.sha256()
    total = (
        fs.read("round-trip.bin").pipe(ops.do_action(read.update), ops.map(len), ops.sum()).run()
    )
    assert total == blocks << 20
    assert read.hexdigest() == written.hexdigest()


def test_the_schedulers_file_system_is_usable(scheduler: rxxenon.Scheduler) -> None:
    fs = scheduler.get_file_system()
    assert fs.get_working_directory() == Path(os.getcwd())
    assert fs.exists(".")


def test_a_write_from_a_subject_keeps_what_is_sent_right_after_subscribing(
    fs: rxxenon.FileSystem, tmp_path: pathlib.Path
) -> None:
    # A hot source: whatever it emits once subscribe() has returned is written, however soon.
    for i in range(20):
        source: Subject[bytes] = Subject()
        result = Collector[int]()
        fs.write(f"hot-{i}.txt", source).subscribe(result)
        source.on_next(b"first ")
        source.on_next(b"second")
        source.on_completed()
        result.wait()
        assert result.error is None
        assert (tmp_path / f"hot-{i}.txt").read_bytes() == b"first second"
