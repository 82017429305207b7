"""Keep glibc's allocator from handing a streaming server's buffers back after every piece.

A file or job output is sent in pieces of 256 KiB to 1 MiB, and each piece passes through a
few buffers of that size (the read, the message, its serialisation), allocated on one thread
and freed on another. With glibc's default, adaptive thresholds, whether those buffers are
reused or mapped, touched page by page and returned to the kernel after every piece depends
on incidental state such as which arena each thread got: measured here, the same
``rxxenon serve`` either read a file at 500-650 MB/s with about 7,000 minor page faults in
all, or at 290-330 MB/s with 260,000 (about 3.5 per page sent), from one start to the next.
Fixed thresholds above the pieces make the fast case the only one; what the allocator may
keep unreturned is bounded by :data:`TRIM_THRESHOLD` per arena.

Only ``rxxenon serve`` does this, for its own process; an application that embeds the
server in process keeps its allocator as it set it.
"""

from __future__ import annotations

import ctypes
import os
from typing import Final

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "is_glibc", "keep_stream_buffers"]

#: Allocations at least this large are mapped separately: above every piece and its copies.
MMAP_THRESHOLD: Final = 2 * 1024 * 1024

#: Free memory an arena keeps on top before it gives it back to the kernel.
TRIM_THRESHOLD: Final = 8 * 1024 * 1024

# mallopt parameters, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3


def is_glibc() -> bool:
    """Whether this process runs on the GNU C library (whose allocator this module tunes)."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError):  # not a name this platform knows
        return False


def keep_stream_buffers() -> bool:
    """Set the allocator's thresholds for streaming; False where that is not glibc's malloc."""
    if not is_glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
