"""The tray icon's tooltip where the tray backend has none (pystray's xorg
backend only sets WM_NAME, which XEmbed trays do not show): a small
borderless window near the pointer, wrapped between words."""

from __future__ import annotations

import tkinter as tk

__all__ = ["Tooltip"]


class Tooltip:
    def __init__(self, root: tk.Misc) -> None:
        self.root = root
        self.top: tk.Toplevel | None = None
        self.label: tk.Label | None = None

    def show(self, text: str, x: int, y: int) -> None:
        if self.top is None or not self.top.winfo_exists():
            self.top = tk.Toplevel(self.root)
            self.top.withdraw()
            self.top.overrideredirect(True)
            self.label = tk.Label(self.top, justify="left", background="#ffffe1",
                                  foreground="#000000", relief="solid", borderwidth=1,
                                  padx=6, pady=3, wraplength=360)
            self.label.pack()
        assert self.label is not None
        self.label.configure(text=text)
        self.top.update_idletasks()
        w, h = self.top.winfo_reqwidth(), self.top.winfo_reqheight()
        sw, sh = self.top.winfo_screenwidth(), self.top.winfo_screenheight()
        px = min(max(0, x - w // 2), sw - w)
        py = y + 20 if y + 20 + h <= sh else y - h - 12
        self.top.geometry(f"+{px}+{py}")
        self.top.deiconify()
        self.top.lift()

    def hide(self) -> None:
        if self.top is not None and self.top.winfo_exists():
            self.top.withdraw()

    @property
    def visible(self) -> bool:
        return bool(self.top is not None and self.top.winfo_exists()
                    and self.top.winfo_ismapped())

    @property
    def text(self) -> str:
        return str(self.label.cget("text")) if self.label is not None else ""
