"""The output operators: incremental decoding, line splitting, picking a stream."""

from __future__ import annotations

import pytest
import reactivex
from reactivex import operators as ops

from rxxenon import Stderr, Stdout
from rxxenon.operators import decode, lines, stderr_of, stdout_of


def collect(observable: reactivex.Observable[str]) -> list[str]:
    return observable.pipe(ops.to_list()).run()


def test_decode_keeps_a_character_split_across_chunks() -> None:
    data = "héllo wörld €".encode()
    split = data.index("€".encode()) + 1  # cut inside the euro sign's three bytes
    chunks = [data[:3], data[3:split], data[split:]]
    assert "".join(collect(reactivex.from_iterable(chunks).pipe(decode()))) == "héllo wörld €"


def test_decode_emits_no_empty_strings() -> None:
    chunks = [b"\xe2", b"\x82", b"\xac"]
    assert collect(reactivex.from_iterable(chunks).pipe(decode())) == ["€"]


def test_decode_reports_an_incomplete_character_at_the_end() -> None:
    with pytest.raises(UnicodeDecodeError):
        collect(reactivex.of(b"ok", b"\xe2\x82").pipe(decode()))


def test_decode_with_replace_does_not_fail() -> None:
    assert collect(reactivex.of(b"ok\xff").pipe(decode(errors="replace"))) == ["ok\ufffd"]


def test_lines_split_across_chunk_boundaries() -> None:
    chunks = ["one\ntw", "o\nthr", "ee", "\n\nfour"]
    assert collect(reactivex.from_iterable(chunks).pipe(lines())) == [
        "one",
        "two",
        "three",
        "",
        "four",
    ]


def test_lines_keepends() -> None:
    assert collect(reactivex.of("a\nb", "\n").pipe(lines(keepends=True))) == ["a\n", "b\n"]


def test_lines_state_is_per_subscription() -> None:
    source = reactivex.of("x", "y\nz").pipe(lines())
    assert collect(source) == ["xy", "z"]
    assert collect(source) == ["xy", "z"]


def test_lines_pass_errors_through() -> None:
    problem = RuntimeError("gone")
    with pytest.raises(RuntimeError):
        collect(reactivex.concat(reactivex.of("a\n"), reactivex.throw(problem)).pipe(lines()))


def test_stream_pickers() -> None:
    events = reactivex.of(Stdout(b"o1"), Stderr(b"e1"), Stdout(b"o2"))
    assert events.pipe(stdout_of(), ops.to_list()).run() == [b"o1", b"o2"]
    assert events.pipe(stderr_of(), ops.to_list()).run() == [b"e1"]
