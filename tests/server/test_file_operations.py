"""Create, delete, rename, link and permission operations (reference §5.3 and §5.8)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

import grpc
import pytest

from rxxenon._proto import xenon_pb2 as pb

from ._files import XENON_FS, FileSystemClient
from ._support import rpc_error

NOT_FOUND = grpc.StatusCode.NOT_FOUND
ALREADY_EXISTS = grpc.StatusCode.ALREADY_EXISTS
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
INTERNAL = grpc.StatusCode.INTERNAL


def no_such_path(path: object) -> str:
    return f"{XENON_FS}NoSuchPathException: file adaptor: Path does not exist: {path}"


def already_exists(path: object) -> str:
    return f"{XENON_FS}PathAlreadyExistsException: file adaptor: Path already exists: {path}"


def invalid_path(message: str) -> str:
    return f"{XENON_FS}InvalidPathException: file adaptor: {message}"


# createDirectory / createDirectories / createFile -------------------------------------------


def test_create_directory(fs: FileSystemClient) -> None:
    fs.create_directory("rel")
    fs.create_directory(str(fs.root / "abs"))
    assert (fs.root / "rel").is_dir()
    assert (fs.root / "abs").is_dir()


@pytest.mark.parametrize("kind", ["directory", "file"])
def test_create_directory_that_exists(fs: FileSystemClient, kind: str) -> None:
    if kind == "directory":
        (fs.root / "there").mkdir()
    else:
        (fs.root / "there").touch()
    with rpc_error(ALREADY_EXISTS, already_exists(fs.root / "there")):
        fs.create_directory("there")


def test_create_directory_without_its_parent(fs: FileSystemClient) -> None:
    with rpc_error(NOT_FOUND, no_such_path(fs.root / "missing")):  # names the parent
        fs.create_directory("missing/child")
    assert not (fs.root / "missing").exists()


def test_create_directory_in_a_file(fs: FileSystemClient) -> None:
    # Decision (the reference is silent): a parent that is not a directory.
    (fs.root / "file").touch()
    with rpc_error(FAILED_PRECONDITION, invalid_path(f"Path is not a directory: {fs.root}/file")):
        fs.create_directory("file/child")


def test_create_directories(fs: FileSystemClient) -> None:
    fs.create_directories("a/b/c")
    assert (fs.root / "a" / "b" / "c").is_dir()
    with rpc_error(ALREADY_EXISTS, already_exists(fs.root / "a" / "b" / "c")):
        fs.create_directories("a/b/c")
    fs.create_directories("a/b/c2")  # partly existing is fine
    assert (fs.root / "a" / "b" / "c2").is_dir()


def test_create_directories_through_a_file(fs: FileSystemClient) -> None:
    (fs.root / "file").touch()
    with rpc_error(FAILED_PRECONDITION, invalid_path(f"Path is not a directory: {fs.root}/file")):
        fs.create_directories("file/a/b")


def test_create_file(fs: FileSystemClient) -> None:
    fs.create_file("f")
    assert (fs.root / "f").read_bytes() == b""
    with rpc_error(ALREADY_EXISTS, already_exists(fs.root / "f")):
        fs.create_file("f")
    with rpc_error(NOT_FOUND, no_such_path(fs.root / "missing")):
        fs.create_file("missing/f")


def test_exists(fs: FileSystemClient) -> None:
    (fs.root / "f").touch()
    os.symlink(fs.root / "nowhere", fs.root / "dangling")
    assert fs.exists("f")
    assert fs.exists("dangling")  # a dangling link exists
    assert not fs.exists("nope")
    assert not fs.exists("f/under-a-file")


# delete -------------------------------------------------------------------------------------


def test_delete_a_file(fs: FileSystemClient) -> None:
    (fs.root / "f").touch()
    fs.delete("f")
    assert not (fs.root / "f").exists()
    with rpc_error(NOT_FOUND, no_such_path(fs.root / "f")):
        fs.delete("f")


def test_delete_directories(fs: FileSystemClient) -> None:
    (fs.root / "full").mkdir()
    (fs.root / "full" / "f").touch()
    details = f"{XENON_FS}DirectoryNotEmptyException: file adaptor: Directory not empty: "
    with rpc_error(INTERNAL, details + str(fs.root / "full")):
        fs.delete("full")
    assert (fs.root / "full" / "f").exists()
    (fs.root / "empty").mkdir()
    fs.delete("empty")
    assert not (fs.root / "empty").exists()


def test_delete_recursive_does_not_follow_links(fs: FileSystemClient) -> None:
    (fs.root / "keep").mkdir()
    (fs.root / "keep" / "precious").write_text("x")
    tree = fs.root / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f").touch()
    (tree / ".hidden").touch()
    os.symlink(fs.root / "keep", tree / "a" / "to-keep")
    os.symlink(fs.root / "keep" / "precious", tree / "to-precious")
    os.mkfifo(tree / "fifo")
    fs.delete("tree", recursive=True)
    assert not tree.exists()
    assert (fs.root / "keep" / "precious").read_text() == "x"


def test_delete_recursive_on_a_file_and_links(fs: FileSystemClient) -> None:
    (fs.root / "f").touch()
    fs.delete("f", recursive=True)
    assert not (fs.root / "f").exists()
    (fs.root / "dir").mkdir()
    (fs.root / "dir" / "inside").touch()
    os.symlink(fs.root / "dir", fs.root / "lnk")
    fs.delete("lnk")  # the link, not the directory it points to
    assert not (fs.root / "lnk").is_symlink()
    assert (fs.root / "dir" / "inside").exists()
    os.symlink(fs.root / "nowhere", fs.root / "dangling")
    fs.delete("dangling")
    assert not (fs.root / "dangling").is_symlink()


@pytest.mark.parametrize(
    ("given", "deleted"), [(".", "a/wd"), ("..", "a"), ("sub/.", "a/wd/sub"), ("sub/..", "a/wd")]
)
def test_dot_names_are_resolved_before_deleting(
    fs: FileSystemClient, new_fs: Callable[..., pb.FileSystem], given: str, deleted: str
) -> None:
    # As xenon-grpc does (the reference is silent): the normalised path is deleted, so "."
    # is the working directory and ".." its parent. (Inside the test's directory.)
    working = fs.root / "a" / "wd"
    (working / "sub").mkdir(parents=True)
    inside = FileSystemClient(fs.stub, new_fs(location=str(working)), working)
    inside.delete(given, recursive=True)
    assert not (fs.root / deleted).exists()
    assert (fs.root / deleted).parent.is_dir()


# rename -------------------------------------------------------------------------------------


def test_rename(fs: FileSystemClient) -> None:
    (fs.root / "a").write_text("a")
    fs.rename("a", "b")
    assert (fs.root / "b").read_text() == "a"
    assert not (fs.root / "a").exists()
    (fs.root / "dir").mkdir()
    (fs.root / "dir" / "inside").touch()
    fs.rename("dir", str(fs.root / "dir2"))  # directories too
    assert (fs.root / "dir2" / "inside").exists()


def test_rename_errors(fs: FileSystemClient) -> None:
    (fs.root / "a").touch()
    (fs.root / "b").touch()
    with rpc_error(NOT_FOUND, no_such_path(fs.root / "missing")):
        fs.rename("missing", "c")
    with rpc_error(ALREADY_EXISTS, already_exists(fs.root / "b")):
        fs.rename("a", "b")
    with rpc_error(NOT_FOUND, no_such_path(fs.root / "nodir")):
        fs.rename("a", "nodir/c")
    assert (fs.root / "a").exists()


def test_rename_to_itself_is_a_no_op(fs: FileSystemClient) -> None:
    (fs.root / "a").write_text("a")
    fs.rename("a", "./a")
    assert (fs.root / "a").read_text() == "a"
    fs.rename("missing", "missing")  # not even checked, as in Xenon


# createSymbolicLink / readSymbolicLink ------------------------------------------------------


def test_link_targets_are_stored_absolute(fs: FileSystemClient) -> None:
    (fs.root / "f1.txt").write_text("one")
    fs.link("lnk", "f1.txt")
    assert os.readlink(fs.root / "lnk") == str(fs.root / "f1.txt")
    assert (fs.root / "lnk").read_text() == "one"
    fs.link("dangling", "/nonexistent/target")  # an absolute dangling target is allowed
    assert os.readlink(fs.root / "dangling") == "/nonexistent/target"
    with rpc_error(ALREADY_EXISTS, already_exists(fs.root / "lnk")):
        fs.link("lnk", "f1.txt")
    with rpc_error(NOT_FOUND, no_such_path(fs.root / "missing")):
        fs.link("missing/lnk", "f1.txt")


def test_read_symbolic_link(fs: FileSystemClient) -> None:
    (fs.root / "f").touch()
    fs.link("lnk", "f")
    assert fs.read_link("lnk") == pb.Path(path=str(fs.root / "f"), separator="")
    # A target as stored, not normalised (as xenon-grpc gives it); a relative one (made
    # outside Xenon) appended to the link's folder.
    os.symlink("/nonexistent/../target", fs.root / "dangling")
    assert fs.read_link("dangling") == pb.Path(path="/nonexistent/../target", separator="")
    (fs.root / "d").mkdir()
    os.symlink("../f", fs.root / "d" / "relative")
    assert fs.read_link("d/relative") == pb.Path(path=f"{fs.root}/d/../f", separator="")
    os.symlink("./x//../f", fs.root / "dotted")
    assert fs.read_link("dotted") == pb.Path(path=f"{fs.root}/./x/../f", separator="")


def test_read_symbolic_link_errors(fs: FileSystemClient) -> None:
    (fs.root / "f").touch()
    with rpc_error(FAILED_PRECONDITION, invalid_path(f"Not a symbolic link: {fs.root}/f")):
        fs.read_link("f")
    with rpc_error(NOT_FOUND, no_such_path(fs.root / "missing")):
        fs.read_link("missing")


# setPosixFilePermissions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("permissions", "mode"),
    [
        ((pb.OWNER_READ, pb.OWNER_EXECUTE, pb.OTHERS_WRITE), 0o502),
        ((), 0o000),
        ((pb.NONE, pb.OWNER_READ), 0o400),
        ((pb.OWNER_READ, pb.OWNER_READ, pb.GROUP_WRITE), 0o420),
        (
            (
                pb.OWNER_READ,
                pb.OWNER_WRITE,
                pb.OWNER_EXECUTE,
                pb.GROUP_READ,
                pb.GROUP_WRITE,
                pb.GROUP_EXECUTE,
                pb.OTHERS_READ,
                pb.OTHERS_WRITE,
                pb.OTHERS_EXECUTE,
            ),
            0o777,
        ),
    ],
)
def test_set_exactly_the_permissions(
    fs: FileSystemClient, permissions: tuple[pb.PosixFilePermission.ValueType, ...], mode: int
) -> None:
    target = fs.root / "f"
    target.touch()
    target.chmod(0o4755)
    fs.set_permissions("f", *permissions)
    assert stat.S_IMODE(target.stat().st_mode) & 0o777 == mode


def test_set_permissions_errors(fs: FileSystemClient) -> None:
    with rpc_error(NOT_FOUND, no_such_path(fs.root / "missing")):
        fs.set_permissions("missing", pb.OWNER_READ)


def test_set_permissions_follows_links(fs: FileSystemClient) -> None:
    # Decision (the reference is silent): as chmod does, a link's target gets the permissions;
    # a dangling link cannot have any.
    (fs.root / "f").touch()
    os.symlink(fs.root / "f", fs.root / "lnk")
    fs.set_permissions("lnk", pb.OWNER_READ)
    assert stat.S_IMODE((fs.root / "f").stat().st_mode) == 0o400
    os.symlink(fs.root / "nowhere", fs.root / "dangling")
    details = (
        "nl.esciencecenter.xenon.XenonException: file adaptor: "
        f"Failed to set permissions {fs.root}/dangling"
    )
    with rpc_error(INTERNAL, details):
        fs.set_permissions("dangling", pb.OWNER_READ)
