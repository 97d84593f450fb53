"""The C allocator's thresholds for a worker that moves object data in 1 MiB pieces.

glibc serves an allocation of 128 KiB or more with a fresh ``mmap`` (its mmap threshold, which
it raises only as large blocks are freed) and returns free memory above 128 KiB at the top of
its heap to the system (its trim threshold). The object store allocates and frees several
1 MiB buffers per request (a read from a blob, the plaintext sent, a batch of a body being
hashed and sealed), so each came back as new pages, and the first touch of every 4 KiB page is
a page fault: for a 1 MiB GET, about 750 faults, 1.6 ms of the 1.9 ms of CPU it took on the
benchmark machine (a VM), against 0.3 ms with the buffers reused (bench/README.md).

Each worker therefore sets glibc's mmap threshold to 4 MiB (blocks below it come from the
heap and are reused) and its trim threshold to 64 MiB (a worker keeps up to that much free
heap instead of returning and faulting it in again). What a worker holds stays bounded: the
same streaming, a few MiB per request in flight. Environment variables ``MALLOC_MMAP_THRESHOLD_``
or ``MALLOC_TRIM_THRESHOLD_`` set by the operator win (nothing is changed); other C libraries
(musl) are left alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD = 4 * 1024 * 1024
TRIM_THRESHOLD = 64 * 1024 * 1024
_M_TRIM_THRESHOLD = -1  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_OPERATOR_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def tune() -> bool:
    """Set the thresholds in this process; True if glibc took them."""
    if not sys.platform.startswith("linux") or any(v in os.environ for v in _OPERATOR_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL(None)
        gnu_get_libc_version = libc.gnu_get_libc_version  # glibc only
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    del gnu_get_libc_version
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
