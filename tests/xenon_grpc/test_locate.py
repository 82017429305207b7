"""find_jar() and find_java(): the order they look in, and what their errors say."""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path

import pytest

import rxxenon
from rxxenon.xenon_grpc import (
    JAR_ENV,
    JavaNotFoundError,
    XenonGrpcNotFoundError,
    find_jar,
    find_java,
    jar_search_dirs,
)
from rxxenon.xenon_grpc._locate import jar_version


def make_jar(directory: Path, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    jar = directory / f"xenon-grpc-{version}.jar"
    jar.write_bytes(b"PK")
    return jar


def make_executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def prefixes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """sys.prefix, sys.base_prefix and the user base moved to empty temporary directories,
    and RXXENON_XENON_GRPC_JAR unset."""
    dirs = {name: tmp_path / name for name in ("venv", "base", "user")}
    monkeypatch.setattr(sys, "prefix", str(dirs["venv"]))
    monkeypatch.setattr(sys, "base_prefix", str(dirs["base"]))
    monkeypatch.setattr(site, "USER_BASE", str(dirs["user"]))
    monkeypatch.delenv(JAR_ENV, raising=False)
    return dirs


def test_search_dirs_are_those_pip_install_pyxenon_uses(prefixes: dict[str, Path]) -> None:
    venv, base, user = prefixes["venv"], prefixes["base"], prefixes["user"]
    assert jar_search_dirs() == [
        venv / "lib",
        venv / "local" / "lib",
        base / "lib",
        base / "local" / "lib",
        user / "lib",
        user / "local" / "lib",
    ]


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("xenon-grpc-3.0.1.jar", (3, 0, 1)),
        ("xenon-grpc-3.0.10.jar", (3, 0, 10)),
        ("xenon-grpc-3.1.0-SNAPSHOT.jar", (3, 1, 0)),
        ("xenon-grpc-latest.jar", ()),
    ],
)
def test_jar_version(name: str, version: tuple[int, ...]) -> None:
    assert jar_version(name) == version


def test_found_in_the_virtualenv_lib(prefixes: dict[str, Path]) -> None:
    jar = make_jar(prefixes["venv"] / "lib", "3.0.1")
    assert find_jar() == jar


@pytest.mark.parametrize("where", ["base/lib", "base/local/lib", "user/lib", "user/local/lib"])
def test_found_in_every_search_dir(prefixes: dict[str, Path], where: str) -> None:
    prefix, *rest = where.split("/")
    jar = make_jar(prefixes[prefix].joinpath(*rest), "3.0.1")
    assert find_jar() == jar


def test_newest_version_wins_across_dirs(prefixes: dict[str, Path]) -> None:
    make_jar(prefixes["venv"] / "lib", "3.0.1")
    make_jar(prefixes["venv"] / "lib", "3.0.2")
    newest = make_jar(prefixes["user"] / "local" / "lib", "3.0.10")  # numeric, not text, order
    make_jar(prefixes["base"] / "lib", "2.6.0")
    assert find_jar() == newest


def test_earlier_dir_wins_a_tie(prefixes: dict[str, Path]) -> None:
    first = make_jar(prefixes["venv"] / "lib", "3.0.1")
    make_jar(prefixes["user"] / "lib", "3.0.1")
    assert find_jar() == first


def test_environment_variable_beats_the_search(
    prefixes: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_jar(prefixes["venv"] / "lib", "9.9.9")
    chosen = make_jar(tmp_path / "elsewhere", "3.0.1")
    monkeypatch.setenv(JAR_ENV, str(chosen))
    assert find_jar() == chosen


def test_environment_variable_may_name_a_directory(
    prefixes: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_jar(tmp_path / "jars", "3.0.1")
    newest = make_jar(tmp_path / "jars", "3.0.2")
    monkeypatch.setenv(JAR_ENV, str(tmp_path / "jars"))
    assert find_jar() == newest


def test_empty_environment_variable_is_unset(
    prefixes: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    jar = make_jar(prefixes["venv"] / "lib", "3.0.1")
    monkeypatch.setenv(JAR_ENV, "")
    assert find_jar() == jar


def test_explicit_path_beats_the_environment_variable(
    prefixes: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(JAR_ENV, str(make_jar(tmp_path / "env", "3.0.2")))
    explicit = make_jar(tmp_path / "explicit", "3.0.1")
    assert find_jar(explicit) == explicit
    assert find_jar(str(explicit)) == explicit
    assert find_jar(tmp_path / "explicit") == explicit  # a directory


def test_wrong_environment_variable_is_an_error_not_a_fallback(
    prefixes: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_jar(prefixes["venv"] / "lib", "3.0.1")
    monkeypatch.setenv(JAR_ENV, str(tmp_path / "typo.jar"))
    with pytest.raises(XenonGrpcNotFoundError, match=rf"\${JAR_ENV} is .*typo\.jar.*not exist"):
        find_jar()


def test_wrong_explicit_path_is_an_error(prefixes: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(XenonGrpcNotFoundError, match=r"typo\.jar, which does not exist"):
        find_jar(tmp_path / "typo.jar")
    (tmp_path / "empty").mkdir()
    with pytest.raises(XenonGrpcNotFoundError, match=r"holds no xenon-grpc-\*\.jar"):
        find_jar(tmp_path / "empty")


def test_nothing_found_says_what_to_install(prefixes: dict[str, Path]) -> None:
    with pytest.raises(XenonGrpcNotFoundError) as caught:
        find_jar()
    message = str(caught.value)
    assert "pip install 'rxxenon[xenon-grpc]'" in message
    assert JAR_ENV in message
    assert str(prefixes["user"] / "local" / "lib") in message  # what was searched
    # One error for callers of either family.
    assert isinstance(caught.value, rxxenon.XenonError)
    assert isinstance(caught.value, FileNotFoundError)


# --- find_java -------------------------------------------------------------------------


@pytest.fixture
def no_java(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty PATH directory and no JAVA_HOME."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    return empty


def test_java_on_path(no_java: Path) -> None:
    java = make_executable(no_java / "java")
    assert find_java() == java


def test_java_home_beats_path(
    no_java: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_executable(no_java / "java")
    home_java = make_executable(tmp_path / "jdk" / "bin" / "java")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert find_java() == home_java


def test_explicit_java_beats_java_home(
    no_java: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    make_executable(tmp_path / "jdk" / "bin" / "java")
    explicit = make_executable(tmp_path / "other" / "java")
    assert find_java(explicit) == explicit
    assert find_java(str(explicit)) == explicit
    named = make_executable(no_java / "java17")
    assert find_java("java17") == named  # a command name is looked up on PATH


def test_explicit_java_missing_is_an_error(no_java: Path, tmp_path: Path) -> None:
    with pytest.raises(JavaNotFoundError, match="is not an executable file"):
        find_java(tmp_path / "nope" / "java")
    with pytest.raises(JavaNotFoundError, match="'java21' is not on PATH"):
        find_java("java21")


def test_broken_java_home_is_an_error_not_a_fallback(
    no_java: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_executable(no_java / "java")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "gone"))
    with pytest.raises(JavaNotFoundError, match=r"JAVA_HOME is .*gone"):
        find_java()


def test_no_java_says_what_to_install(no_java: Path) -> None:
    with pytest.raises(JavaNotFoundError) as caught:
        find_java()
    assert "openjdk-17-jre-headless" in str(caught.value)
    assert "JAVA_HOME" in str(caught.value)
    assert isinstance(caught.value, rxxenon.XenonError)
    assert isinstance(caught.value, FileNotFoundError)


def test_non_executable_java_on_path_is_skipped(no_java: Path) -> None:
    (no_java / "java").write_text("not executable")
    assert not os.access(no_java / "java", os.X_OK)
    with pytest.raises(JavaNotFoundError):
        find_java()
