"""The protocol log window: the live transcript of every session.

Client lines, server lines and notes are told apart by colour; passwords
arrive already masked (the transcript never holds them). Pause auto-scroll,
search, clear, copy, save; keeps the last few thousand lines.
"""

from __future__ import annotations

import time
import tkinter as tk
from collections import deque
from pathlib import Path
from tkinter import filedialog, ttk

from ..accounts import Accounts
from ..i18n import N_, _
from ..pop3 import Direction, TranscriptEvent
from ..private import write_private_text
from .root import Window
from .worker import TkBridge

__all__ = ["LogWindow"]

MAX_LINES = 3000
ALL = N_("All accounts")  # the msgid; shown as _(ALL)


def save_folder() -> Path:
    """Where "Save…" starts: the folder used last, else Documents, else home."""
    if LogWindow.last_folder is not None and LogWindow.last_folder.is_dir():
        return LogWindow.last_folder
    import platformdirs

    documents = Path(platformdirs.user_documents_dir())
    return documents if documents.is_dir() else Path.home()


class LogWindow(Window):
    #: the folder of the last "Save…" (this run)
    last_folder: Path | None = None

    def __init__(self, root: tk.Misc, bridge: TkBridge, accounts: Accounts) -> None:
        self.bridge = bridge
        self.accounts = accounts
        self.top = tk.Toplevel(root)
        self.top.title(_("traymail — protocol log"))
        self.top.geometry("820x420")
        self.events: deque[tuple[str, TranscriptEvent]] = deque(maxlen=MAX_LINES)
        self.autoscroll = tk.BooleanVar(value=True)
        self.filter = tk.StringVar(value=_(ALL))
        self.query = tk.StringVar()
        self._build()
        history = [(mb.name, ev) for mb in accounts.mailboxes(enabled_only=False)
                   for ev in mb.transcript]
        history.sort(key=lambda item: item[1].timestamp)
        for name, ev in history[-MAX_LINES:]:
            self.events.append((name, ev))
        self._render()
        accounts.add_listener(self._listener)
        self.top.protocol("WM_DELETE_WINDOW", self.close)

    def _build(self) -> None:
        bar = ttk.Frame(self.top, padding=(6, 6, 6, 2))
        bar.pack(fill="x")
        self.bar = bar
        self.account_box = ttk.Combobox(bar, textvariable=self.filter, state="readonly",
                                        width=16, values=[_(ALL), *self.accounts.names])
        self.account_box.bind("<<ComboboxSelected>>", lambda e: self._render())
        scroll = ttk.Checkbutton(bar, text=_("Auto-scroll"), variable=self.autoscroll)
        self.search_entry = ttk.Entry(bar, textvariable=self.query, width=16)
        self.search_entry.bind("<Return>", lambda e: self.find_next())
        find = ttk.Button(bar, text=_("Find"), command=self.find_next, width=-5)
        #: created in Tab order; packed right-hand buttons first, so that a
        #: narrow window squeezes the search field, never a button's label
        #: keyed by the English label
        self.buttons = {text: ttk.Button(bar, text=_(text), command=cmd, width=-6)
                        for text, cmd in ((N_("Save…"), self.save_dialog),
                                          (N_("Copy"), self.copy), (N_("Clear"), self.clear))}
        for button in reversed(self.buttons.values()):
            button.pack(side="right", padx=2)
        self.account_box.pack(side="left")
        scroll.pack(side="left", padx=8)
        find.pack(side="right", padx=(2, 8))
        self.search_entry.pack(side="right", fill="x", expand=True)
        body = ttk.Frame(self.top, padding=(6, 2, 6, 6))
        body.pack(fill="both", expand=True)
        self.text = tk.Text(body, wrap="none", height=20, font="TkFixedFont",
                            undo=False, state="disabled")
        ys = ttk.Scrollbar(body, orient="vertical", command=self.text.yview)
        xs = ttk.Scrollbar(body, orient="horizontal", command=self.text.xview)
        self.text.configure(yscrollcommand=ys.set, xscrollcommand=xs.set)
        self.text.grid(row=0, column=0, sticky="nsew")
        ys.grid(row=0, column=1, sticky="ns")
        xs.grid(row=1, column=0, sticky="ew")
        body.rowconfigure(0, weight=1)
        body.columnconfigure(0, weight=1)
        self.text.tag_configure("client", foreground="#1f4fa8")
        self.text.tag_configure("server", foreground="#1d6b2c")
        self.text.tag_configure("note", foreground="#777777")
        self.text.tag_configure("time", foreground="#999999")
        self.text.tag_configure("match", background="#ffe066")
        self.top.bind("<Control-f>", lambda e: self.focus_search())
        self.top.bind("<Escape>", lambda e: self.close())
        self.top.update_idletasks()  # a minimum size that keeps every button whole
        self.top.minsize(bar.winfo_reqwidth(), 220)

    def focus_search(self) -> None:
        """Ctrl+F: to the search field with the old text selected (typing replaces it)."""
        self.search_entry.focus_set()
        self.search_entry.select_range(0, "end")
        self.search_entry.icursor("end")

    # -- feeding ---------------------------------------------------------------
    def _listener(self, name: str, event: TranscriptEvent) -> None:
        self.bridge.post(lambda: self.add(name, event) if self.alive else None)

    def add(self, name: str, event: TranscriptEvent) -> None:
        self.events.append((name, event))
        if self._shown(name):
            self._insert(name, event)
            self._trim()
            if self.autoscroll.get():
                self.text.see("end")

    def _shown(self, name: str) -> bool:
        return self.filter.get() in (_(ALL), name)

    def _insert(self, name: str, event: TranscriptEvent) -> None:
        tag = {Direction.CLIENT: "client", Direction.SERVER: "server"}.get(
            event.direction, "note")
        stamp = time.strftime("%H:%M:%S", time.localtime(event.timestamp))
        stamp += f".{int(event.timestamp * 1000) % 1000:03d}"
        prefix = f"{stamp} {name:<10.10} " if self.filter.get() == _(ALL) else f"{stamp} "
        self.text.configure(state="normal")
        self.text.insert("end", prefix, ("time",), f"{event}\n", (tag,))
        self.text.configure(state="disabled")

    def _trim(self) -> None:
        lines = int(self.text.index("end-1c").split(".")[0]) - 1  # each ends with \n
        if lines > MAX_LINES:
            self.text.configure(state="normal")
            self.text.delete("1.0", f"{lines - MAX_LINES + 1}.0")
            self.text.configure(state="disabled")

    def _render(self) -> None:
        self.text.configure(state="normal")
        self.text.delete("1.0", "end")
        self.text.configure(state="disabled")
        for name, event in self.events:
            if self._shown(name):
                self._insert(name, event)
        self.text.see("end")

    # -- actions ---------------------------------------------------------------
    def contents(self) -> str:
        return self.text.get("1.0", "end-1c")

    def find_next(self) -> bool:
        needle = self.query.get()
        self.text.tag_remove("match", "1.0", "end")
        if not needle:
            return False
        start = self.text.index("insert +1c")
        pos = self.text.search(needle, start, nocase=True, stopindex="end") or \
            self.text.search(needle, "1.0", nocase=True, stopindex="end")
        if not pos:
            return False
        end = f"{pos}+{len(needle)}c"
        self.text.tag_add("match", pos, end)
        self.text.mark_set("insert", pos)
        self.text.see(pos)
        self.autoscroll.set(False)  # looking at something: stop jumping away
        return True

    def clear(self) -> None:
        self.events.clear()
        self._render()

    def copy(self) -> str:
        try:
            text = self.text.get("sel.first", "sel.last")
        except tk.TclError:
            text = self.contents()
        self.top.clipboard_clear()
        self.top.clipboard_append(text)
        return text

    def save_to(self, path: Path) -> None:
        write_private_text(path, self.contents() + "\n")  # a transcript: 0600

    def save_dialog(self) -> None:
        name = filedialog.asksaveasfilename(parent=self.top, defaultextension=".log",
                                            title=_("Save the protocol log"),
                                            initialdir=str(save_folder()),
                                            initialfile="traymail-protocol.log",
                                            filetypes=[(_("Log files"), "*.log"),
                                                       (_("All files"), "*")])
        if name:
            LogWindow.last_folder = Path(name).parent
            self.save_to(Path(name))

    def close(self) -> None:
        self.accounts.remove_listener(self._listener)
        self.destroy_window()
