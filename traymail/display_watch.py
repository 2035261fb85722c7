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
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["install"]

log = logging.getLogger("traymail.app")
_KEEP: list[Any] = []  # the C callback must outlive the call that set it


def _libx11(only_if_loaded: bool = False) -> ctypes.CDLL | None:
    """The libX11 that Tk (or GTK) already loaded (its soname has been
    libX11.so.6 since X11R6); ``ctypes.util`` only where that name is
    unknown: it pulls in shutil, tempfile and subprocess (bz2, lzma, random)
    that an idle app would keep for nothing. ``only_if_loaded``: None unless
    something in the process loaded it already (``RTLD_NOLOAD``)."""
    try:
        return ctypes.CDLL("libX11.so.6",
                           mode=os.RTLD_NOLOAD if only_if_loaded else ctypes.DEFAULT_MODE)
    except OSError:
        if only_if_loaded:
            return None
    from ctypes.util import find_library

    name = find_library("X11")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def install(on_lost: Callable[[], None], only_if_loaded: bool = False) -> bool:
    """Call ``on_lost`` (any thread, never Tk) when the X connection dies,
    then exit 0. False where there is no libX11 (Windows, Wayland-only) or,
    with ``only_if_loaded``, where nothing in the process uses it yet (an
    idle app with pystray's xorg backend: python-xlib speaks X itself, and
    the tray notices a lost display)."""
    if not sys.platform.startswith("linux") or not os.environ.get("DISPLAY"):
        return False
    lib = _libx11(only_if_loaded)
    if lib is None:
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
