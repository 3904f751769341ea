"""Keep the app server's memory from growing with the number of threads (glibc malloc arenas).

Why: glibc's ``malloc`` gives a thread that meets a locked arena an arena of its own, up to
8 × the number of cores (16 on the 2-core machines here). Streamlit runs each session's script in
a thread of its own, so the pages' allocations (indicator tables, map JSON, the Diagnostic's
figures) spread over many arenas, and what one arena frees is not reused by the others nor
returned to the system. ``benchmarks/bench_app.py`` measured the server's peak resident memory
at 558 MB over the map loads and 607 MB over the whole run; with 2 arenas (the same run with
``MALLOC_ARENA_MAX=2``) 436 and 513 MB, with the same timings.

What: :func:`limit_malloc_arenas` calls ``mallopt(M_ARENA_MAX, n)`` once, from ``app.py`` at
server start (before the sessions' threads exist: arenas already handed out stay). It does
nothing where the C library is not glibc (macOS, musl, Windows) or when ``MALLOC_ARENA_MAX`` is
set in the environment (the operator's choice wins).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

#: ``M_ARENA_MAX`` in glibc's ``<malloc.h>``
M_ARENA_MAX = -8
#: arenas kept: one for the server's event loop, one shared by the sessions' threads
ARENAS = 2


@functools.cache
def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """``mallopt(M_ARENA_MAX, arenas)`` once per process; True when glibc accepted it."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: raises AttributeError elsewhere
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(M_ARENA_MAX, int(arenas)) == 1
