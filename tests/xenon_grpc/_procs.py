"""Looking at processes through /proc (Linux), for checking that nothing is left running."""

from __future__ import annotations

import os


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first); None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            text = file.read()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    return text[text.rindex(")") + 2 :].split()


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    fields = stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def live_pids() -> list[int]:
    """Every process id in /proc."""
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def group_members(pgid: int) -> set[int]:
    """Live processes of process group ``pgid``."""
    members = set()
    for pid in live_pids():
        fields = stat_fields(pid)
        if fields is not None and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.add(pid)
    return members


def children() -> set[int]:
    """Live child processes of this process."""
    me = os.getpid()
    found = set()
    for pid in live_pids():
        fields = stat_fields(pid)
        if fields is not None and fields[0] not in ("Z", "X") and int(fields[1]) == me:
            found.add(pid)
    return found


def open_fds() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))
