"""Giving freed memory back to the system after a large execution ends.

CPython frees an ended execution's state (its task runs' JSON, its indexes) to the C allocator, and glibc's
malloc keeps most of it: it returns only the top of its main heap, and never the free pages between live
blocks. After an execution of 100,000 task runs the executor's state is gone, but ~140 MiB more stays resident
(bench/state_memory.py). `malloc_trim(0)` releases those free pages; it walks the heap (milliseconds for a few
hundred MiB), so the executor calls it only once an execution this large has been forgotten.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

# An execution with at least this many task runs, once forgotten, is worth a trim.
TRIM_AFTER_RUNS = 10_000


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to call
        return None
    if trim is None:
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def give_back() -> bool:
    """Return the C allocator's free pages to the system; False where there is no `malloc_trim`."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
