"""Linux/X11: a lost display ends traymail cleanly.

When the X server goes away (logout, a killed Xvfb, a dropped ``ssh -X``),
Xlib's default I/O error handler prints "X connection ... broken" and calls
``exit(1)`` from C: no Python cleanup runs, the single-instance socket stays
behind and nothing reaches traymail's log. traymail installs its own handler
(``XSetIOErrorHandler(3)``; Xlib requires that it does not return) which
runs a last cleanup and ends the process with status 0.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["install"]

log = logging.getLogger("traymail.app")
_KEEP: list[Any] = []  # the C callback must outlive the call that set it


def install(on_lost: Callable[[], None]) -> bool:
    """Call ``on_lost`` (any thread, never Tk) when the X connection dies,
    then exit 0. False where there is no libX11 (Windows, Wayland-only)."""
    if not sys.platform.startswith("linux") or not os.environ.get("DISPLAY"):
        return False
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    except OSError:
        return False
    handler_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)

    def handler(display: int | None) -> int:
        try:
            on_lost()
        except BaseException:
            log.exception("cleanup after the lost display failed")
        finally:
            os._exit(0)
        return 0  # pragma: no cover - never reached

    callback = handler_type(handler)
    _KEEP.append(callback)
    lib.XSetIOErrorHandler.restype = ctypes.c_void_p
    lib.XSetIOErrorHandler.argtypes = [handler_type]
    lib.XSetIOErrorHandler(callback)
    return True
