"""Memory freed by a check goes back to the operating system.

A check allocates (1,000 headers parsed, a transcript, SQLite pages) and
frees most of it again; glibc keeps freed pages in its arenas, one per
thread that allocated, so a tray app at rest would keep its peak. After each
check the app collects garbage and asks glibc to return every free page of
every arena (``malloc_trim(0)``, glibc manual "Memory Allocation Tunables").
Elsewhere (Windows, musl, macOS) only the collection runs: the working set
is not trimmed by force (EmptyWorkingSet only moves pages to the page file
and makes the next check fault them back in).
"""

from __future__ import annotations

import ctypes
import functools
import gc
import logging
import sys
from collections.abc import Callable

__all__ = ["release"]

log = logging.getLogger("traymail.heap")


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if sys.platform.startswith("linux"):
        try:
            return ctypes.CDLL("libc.so.6").malloc_trim  # glibc only
        except (OSError, AttributeError) as exc:
            log.debug("no malloc_trim: %s", exc)
    return None


def release() -> bool:
    """Collect garbage, then return free heap pages to the OS; True when
    glibc's ``malloc_trim`` ran. Call it from the Tk thread: a collection
    may free Tk objects, which must be freed there."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
