"""Keep freed memory for reuse while training (glibc malloc settings).

A training update allocates and frees a dozen (B, T, V) float32 tensors (logits, soft
predictions, Gumbel noise, their gradients: 70 MB each on Multi30k with the shortlist, 240 MB
with the full vocabulary). glibc serves allocations above 32 MB with fresh ``mmap`` pages and
unmaps them on free, so every such tensor costs page faults and zeroing by the kernel, every
update: 10-17 % of an update's CPU time on the multi30k-de-en recipe (benchmarks/
bench_finetune.py ``--allocator default``). ``keep_freed_memory()`` makes malloc serve them from
its heap and keep freed blocks there for the next update (``M_MMAP_MAX`` 0, a high
``M_TRIM_THRESHOLD``), then restores glibc's defaults and returns the memory to the system
(``malloc_trim``). What is computed does not change. Elsewhere than glibc (macOS, musl,
Windows) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from contextlib import contextmanager
from typing import Iterator

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
DEFAULTS = {M_TRIM_THRESHOLD: 128 * 1024, M_MMAP_MAX: 65536}  # glibc's documented defaults
KEEP = {M_TRIM_THRESHOLD: 2**31 - 1, M_MMAP_MAX: 0}
_lock = threading.Lock()
_depth = 0


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        ctypes.CDLL(None).gnu_get_libc_version  # glibc only
        return libc
    except (OSError, AttributeError, TypeError):
        return None


def _set(libc, values: dict[int, int]) -> None:
    for param, value in values.items():
        libc.mallopt(param, value)


@contextmanager
def keep_freed_memory() -> Iterator[bool]:
    """Within the block, large freed blocks stay in malloc's heap; yields whether it applies.
    Nested or concurrent blocks share one setting, restored when the last one ends."""
    global _depth
    libc = _libc()
    if libc is None:
        yield False
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            _set(libc, KEEP)
    try:
        yield True
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _set(libc, DEFAULTS)
                libc.malloc_trim(0)
