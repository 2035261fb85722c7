"""Helpers for driving real Tk windows on Xvfb."""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable


def pump(root: tk.Misc, until: Callable[[], object] | None = None,
         timeout: float = 5.0) -> bool:
    """Run Tk's event loop until ``until()`` is true (or for ``timeout`` without one)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        root.update()
        if until is not None and until():
            return True
        time.sleep(0.01)
    if until is None:
        return True
    root.update()
    return bool(until())


def center(widget: tk.Misc) -> tuple[int, int]:
    return (widget.winfo_rootx() + widget.winfo_width() // 2,
            widget.winfo_rooty() + widget.winfo_height() // 2)


def screenshot(display: str, path: str, bbox: tuple[int, int, int, int] | None = None) -> str:
    from PIL import ImageGrab

    ImageGrab.grab(bbox=bbox, xdisplay=display).save(path)
    return path
