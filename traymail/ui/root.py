"""The hidden Tk root: theme, DPI awareness, window icon, error routing."""

from __future__ import annotations

import gc
import logging
import sys
import tkinter as tk
from types import TracebackType
from typing import TYPE_CHECKING

from ..platform_support import platform_support

if TYPE_CHECKING:  # tkinter.font and tkinter.ttk come with the first window
    from tkinter import font as tkfont

__all__ = ["create_root", "set_window_icon", "shared_font", "release", "Window"]

log = logging.getLogger("traymail.ui")


def create_root(hidden: bool = True) -> tk.Tk:
    """Make the Tk root (on the main thread): DPI-aware on Windows *before* Tk
    starts, native ttk theme, callback errors to the log, not to a dead window.

    The theme is chosen with Tcl's own ``ttk::setTheme`` (what
    ``ttk.Style.theme_use`` calls): an idle app has no ttk widget, so it
    does not import ``tkinter.ttk``."""
    platform_support().enable_dpi_awareness()
    root = tk.Tk(className="traymail")
    if hidden:
        root.withdraw()
    preferred = "vista" if sys.platform == "win32" else "clam"
    if preferred in root.tk.splitlist(root.tk.call("ttk::style", "theme", "names")):
        root.tk.call("ttk::setTheme", preferred)

    def report(exc: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        log.error("error in a Tk callback", exc_info=(exc, value, tb))

    root.report_callback_exception = report  # type: ignore[assignment]
    set_window_icon(root)
    return root


def set_window_icon(window: tk.Tk | tk.Toplevel) -> None:
    """The envelope as the windows' icon (``wm iconphoto -default``): Tk
    reads the drawn icon's PNG itself (Tk 8.6), so an idle app needs no
    ``PIL.ImageTk``. The photos are made in Tcl and live as long as its
    interpreter: no Python image object whose ``__del__`` would call Tcl
    from a collector in another thread or after tkinter's teardown."""
    try:
        from ..icons import draw_icon, png_bytes

        images = [str(window.tk.call("image", "create", "photo", "-format", "png",
                                     "-data", png_bytes(draw_icon(n))))
                  for n in (16, 32, 64)]
        window.tk.call("wm", "iconphoto", window._w, "-default", *images)
        window._traymail_icons = images  # type: ignore[union-attr]  # their Tcl names
    except Exception:  # an icon is never worth a crash
        log.debug("window icon not set", exc_info=True)


def shared_font(widget: tk.Misc, base: str, **options: object) -> tkfont.Font:
    """A derived font made once per Tk root and kept with it.

    tkinter's Font (like Variable and PhotoImage) calls Tcl when it is freed;
    freed by the garbage collector in a worker thread, that aborts the process
    (Tcl_AsyncDelete) or raises. Fonts that live as long as the root never are.
    """
    from tkinter import font as tkfont

    root = widget._root()  # type: ignore[attr-defined]
    cache: dict[tuple[str, tuple[tuple[str, object], ...]], tkfont.Font] = \
        root.__dict__.setdefault("_traymail_fonts", {})
    key = (base, tuple(sorted(options.items())))
    font = cache.get(key)
    if font is None:
        font = tkfont.nametofont(base, root=root).copy()
        font.configure(**options)
        cache[key] = font
    return font


def release() -> None:
    """After a window closes: collect reference cycles *now*, on the Tk thread,
    so no Tk object is left for the collector to free in another thread."""
    gc.collect()


class Window:
    """What every traymail window shares: a Toplevel that can be re-shown,
    asked whether it is still open, and closed cleanly."""

    top: tk.Toplevel

    def show(self) -> None:
        self.top.deiconify()
        self.top.lift()

    def destroy_window(self) -> None:
        self.top.destroy()
        release()

    @property
    def alive(self) -> bool:
        try:
            return bool(self.top.winfo_exists())
        except tk.TclError:
            return False
