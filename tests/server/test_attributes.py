"""getAttributes and list (reference §5.4 and §5.5)."""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from pathlib import Path

import grpc

from rxxenon._proto import xenon_pb2 as pb

from ._files import XENON_FS, FileSystemClient
from ._support import rpc_error

NOT_FOUND = grpc.StatusCode.NOT_FOUND
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
ALL = {
    pb.OWNER_READ,
    pb.OWNER_WRITE,
    pb.OWNER_EXECUTE,
    pb.GROUP_READ,
    pb.GROUP_WRITE,
    pb.GROUP_EXECUTE,
    pb.OTHERS_READ,
    pb.OTHERS_WRITE,
    pb.OTHERS_EXECUTE,
}


def birth_time(path: Path) -> int | None:
    """The birth time of ``path`` in whole seconds, as ``stat(1)`` reads it; None if unknown."""
    result = subprocess.run(["stat", "-c", "%W", str(path)], capture_output=True, text=True)
    seconds = result.stdout.strip()
    return int(seconds) if result.returncode == 0 and seconds not in ("", "0", "-") else None


def kinds(attributes: pb.PathAttributes) -> tuple[bool, bool, bool, bool]:
    return (
        attributes.is_regular,
        attributes.is_directory,
        attributes.is_symbolic_link,
        attributes.is_other,
    )


# getAttributes ------------------------------------------------------------------------------


def test_attributes_of_a_file(fs: FileSystemClient) -> None:
    path = fs.root / "f.txt"
    path.write_bytes(b"12345")
    path.chmod(0o754)
    os.utime(path, ns=(1_600_000_000_123_456_789, 1_700_000_000_987_654_321))
    attributes = fs.attributes("f.txt")
    status = path.stat()
    assert attributes.path == pb.Path(path=str(path), separator="")
    assert kinds(attributes) == (True, False, False, False)
    assert attributes.size == 5
    # Milliseconds since the epoch; creation_time is the birth time (statx), as Java has it.
    assert attributes.last_modified_time == 1_700_000_000_987
    assert attributes.last_access_time == 1_600_000_000_123
    born = birth_time(path)
    if born is not None:  # where the file system keeps one (tmpfs, ext4, xfs, btrfs...)
        assert attributes.creation_time // 1000 == born
    assert attributes.owner == pwd.getpwuid(status.st_uid).pw_name
    assert attributes.group == grp.getgrgid(status.st_gid).gr_name
    assert set(attributes.permissions) == {
        pb.OWNER_READ,
        pb.OWNER_WRITE,
        pb.OWNER_EXECUTE,
        pb.GROUP_READ,
        pb.GROUP_EXECUTE,
        pb.OTHERS_READ,
    }
    assert len(attributes.permissions) == 6
    assert attributes.is_hidden is False
    assert attributes.is_readable is True
    assert attributes.is_executable is os.access(path, os.X_OK)


def test_attributes_of_a_directory(fs: FileSystemClient) -> None:
    (fs.root / "d").mkdir()
    (fs.root / "d" / "content").write_bytes(b"x" * 10_000)
    attributes = fs.attributes("d")
    assert kinds(attributes) == (False, True, False, False)
    assert attributes.size == 0
    assert attributes.is_executable is True
    assert attributes.is_readable is True


def test_attributes_of_links(fs: FileSystemClient) -> None:
    (fs.root / "target").write_bytes(b"12345")
    (fs.root / "target").chmod(0o644)
    os.symlink(fs.root / "target", fs.root / "lnk")
    attributes = fs.attributes("lnk")
    assert attributes.path.path == str(fs.root / "lnk")  # the link, not its target
    assert kinds(attributes) == (False, False, True, False)
    assert attributes.size == 0
    assert set(attributes.permissions) == ALL  # the link's own permissions (lstat)
    # Readable and executable follow the target.
    assert attributes.is_readable is True
    assert attributes.is_executable is os.access(fs.root / "target", os.X_OK)
    os.symlink(fs.root / "nowhere", fs.root / "dangling")
    dangling = fs.attributes("dangling")
    assert kinds(dangling) == (False, False, True, False)
    assert (dangling.is_readable, dangling.is_executable, dangling.is_writable) == (
        False,
        False,
        False,
    )


def test_attributes_of_a_fifo_and_hidden_files(fs: FileSystemClient) -> None:
    os.mkfifo(fs.root / "fifo")
    fifo = fs.attributes("fifo")
    assert kinds(fifo) == (False, False, False, True)
    assert fifo.size == 0
    (fs.root / ".hidden").touch()
    assert fs.attributes(".hidden").is_hidden is True
    assert fs.attributes("fifo").is_hidden is False
    assert fs.attributes("/").is_hidden is False


def test_is_writable_is_true_where_the_server_may_write(fs: FileSystemClient) -> None:
    # The real server says false for every path; here it is os.access(path, W_OK).
    (fs.root / "f").touch()
    (fs.root / "d").mkdir()
    for name in ("f", "d"):
        attributes = fs.attributes(name)
        assert attributes.is_writable is os.access(fs.root / name, os.W_OK) is True


def test_attributes_of_a_missing_path(fs: FileSystemClient) -> None:
    details = f"{XENON_FS}NoSuchPathException: file adaptor: Path does not exist: {fs.root}/nope"
    with rpc_error(NOT_FOUND, details):
        fs.attributes("nope")


# list ---------------------------------------------------------------------------------------


def make_tree(root: Path) -> None:
    """The tree of the reference's example, and more."""
    (root / ".hidden").touch()
    os.symlink(root / "nowhere", root / "dang")
    os.mkfifo(root / "fifo")
    (root / "b.txt").write_text("b")
    (root / "sub" / "subsub").mkdir(parents=True)
    (root / "sub" / "c.txt").write_text("c")
    (root / "sub" / "subsub" / "deep.txt").write_text("deep")
    (root / "sub2").mkdir()
    (root / "sub2" / "d.txt").touch()
    os.symlink(root / "sub", root / "lnk")
    (root / "a.txt").write_text("a")


def expected_listing(folder: Path, recursive: bool) -> list[str]:
    """Every entry in raw directory order; recursive: each directory's entries, then theirs."""
    names = [str(folder / name) for name in os.listdir(folder)]
    if not recursive:
        return names
    result = list(names)
    for name in names:
        if Path(name).is_dir() and not Path(name).is_symlink():
            result.extend(expected_listing(Path(name), True))
    return result


def test_list_in_raw_directory_order(fs: FileSystemClient) -> None:
    make_tree(fs.root)
    entries = fs.listing(".")
    assert [e.path.path for e in entries] == expected_listing(fs.root, False)
    assert str(fs.root) not in [e.path.path for e in entries]  # not the directory itself
    by_name = {Path(e.path.path).name: e for e in entries}
    assert by_name[".hidden"].is_hidden
    assert kinds(by_name["lnk"]) == (False, False, True, False)  # not a directory
    assert kinds(by_name["sub"]) == (False, True, False, False)
    assert kinds(by_name["fifo"]) == (False, False, False, True)
    assert by_name["b.txt"].size == 1
    assert by_name["sub"] == fs.attributes("sub")


def test_list_recursive(fs: FileSystemClient) -> None:
    make_tree(fs.root)
    entries = [e.path.path for e in fs.listing(str(fs.root), recursive=True)]
    assert entries == expected_listing(fs.root, True)
    assert str(fs.root / "sub" / "subsub" / "deep.txt") in entries
    assert not any(path.startswith(str(fs.root / "lnk") + "/") for path in entries)


def test_list_an_empty_directory(fs: FileSystemClient) -> None:
    (fs.root / "empty").mkdir()
    assert fs.listing("empty") == []
    assert fs.listing("empty", recursive=True) == []


def test_list_errors_name_the_path_as_given(fs: FileSystemClient) -> None:
    (fs.root / "d").mkdir()
    (fs.root / "d" / "f").touch()
    os.symlink(fs.root / "d", fs.root / "lnk")
    missing = f"{XENON_FS}NoSuchPathException: file adaptor: Path does not exist: "
    with rpc_error(NOT_FOUND, missing + "d/nope"):
        fs.listing("d/nope")
    with rpc_error(NOT_FOUND, missing + "./d/nope"):  # "//" and a trailing "/" are dropped
        fs.listing(".//d/nope/")
    with rpc_error(NOT_FOUND, missing + "d\\nope"):
        fs.listing("d\\nope", separator="\\")
    not_a_directory = f"{XENON_FS}InvalidPathException: file adaptor: Path is not a directory: "
    with rpc_error(FAILED_PRECONDITION, not_a_directory + "d/f"):
        fs.listing("d/f")
    with rpc_error(FAILED_PRECONDITION, not_a_directory + "lnk"):  # a link to a directory
        fs.listing("lnk", recursive=True)


def test_list_a_large_directory(fs: FileSystemClient) -> None:
    # Listings are produced in batches; more entries than one batch, in order.
    for number in range(700):
        (fs.root / f"f{number}").touch()
    entries = [e.path.path for e in fs.listing(".")]
    assert entries == expected_listing(fs.root, False)
    assert len(entries) == 700
