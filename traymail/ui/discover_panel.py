"""The settings dialog's "find settings from an e-mail address" panel.

Discovery (:mod:`traymail.discover`) runs in a worker thread; its steps come
back through a plain queue (the worker holds no reference to a widget) and
are shown as they arrive. What it finds fills the form; the user can edit
everything afterwards. Notes carry the provider's help link: click opens
it in the browser, "Copy link" puts it on the clipboard.
"""

from __future__ import annotations

import queue
import tkinter as tk
import webbrowser
from collections.abc import Callable
from tkinter import ttk

from ..discover import Discovery, DiscoveryError, Found, Options, Step, discover
from ..i18n import N_, _
from .worker import TkBridge

__all__ = ["DiscoverPanel"]

LINK_COLOUR = "#1a5fb4"


class DiscoverPanel:
    def __init__(self, parent: tk.Misc, bridge: TkBridge, address: tk.StringVar,
                 on_found: Callable[[Found], object], *, options: Options | None = None,
                 open_url: Callable[[str], object] | None = None) -> None:
        self.bridge = bridge
        self.address = address
        self.on_found = on_found
        self.options = options
        self.open_url = open_url or webbrowser.open
        self.running = False
        self.result: Discovery | None = None
        self.url: str | None = None
        self._steps: queue.SimpleQueue[Step] = queue.SimpleQueue()
        self._shown_steps: list[str] = []

        self.frame = ttk.Frame(parent)
        row = ttk.Frame(self.frame)
        row.pack(fill="x")
        self.entry = ttk.Entry(row, textvariable=address)
        self.entry.pack(side="left", fill="x", expand=True)
        self.entry.bind("<Return>", lambda e: self.find())
        self.button = ttk.Button(row, text=_("Find settings"), command=self.find)
        self.button.pack(side="left", padx=(4, 0))
        self.status = ttk.Label(self.frame, text="", wraplength=420, justify="left")
        self.status.pack(anchor="w")
        self.notes = ttk.Label(self.frame, text="", wraplength=420, justify="left")
        self.link_row = ttk.Frame(self.frame)
        self.link = ttk.Label(self.link_row, text="", foreground=LINK_COLOUR, cursor="hand2",
                              wraplength=360)
        self.link.pack(side="left")
        self.link.bind("<Button-1>", lambda e: self.open_link())
        self.copy_button = ttk.Button(self.link_row, text=_("Copy link"), command=self.copy_link)
        self.copy_button.pack(side="left", padx=4)
        self.steps = ttk.Label(self.frame, text="", wraplength=420, justify="left",
                               foreground="#555555")

    def set_wrap(self, width: int) -> None:
        """Wrap the messages at the form's width (the dialog's width is fixed)."""
        for label in (self.status, self.notes, self.steps):
            label.configure(wraplength=width)
        self.link.configure(wraplength=max(160, width - self.copy_button.winfo_width() - 8))

    # -- running ---------------------------------------------------------------------
    def find(self) -> None:
        """Start discovery for the typed address (off the Tk thread)."""
        if self.running:
            return
        address = self.address.get().strip()
        self.clear()
        if not address:
            self.status.configure(text=_("Type your e-mail address first."))
            return
        self.running = True
        self.button.state(["disabled"])
        self.status.configure(text=_("Looking up the settings for {address}…").format(
            address=address))
        steps, options = self._steps, self.options

        def run() -> Discovery:  # the worker: only plain data in here
            return discover(address, options=options, on_step=steps.put)

        self.bridge.submit(run, self._done, self._failed, name="traymail-discover")
        self._poll_steps()

    def _poll_steps(self) -> None:
        while True:
            try:
                step = self._steps.get_nowait()
            except queue.Empty:
                break
            self._shown_steps.append(("✓ " if step.ok else "✗ ") + _step_text(step))
        if self._shown_steps:
            self.steps.configure(text="\n".join(self._shown_steps))
            self.steps.pack(anchor="w", pady=(2, 0))
        if self.running:
            try:
                self.frame.after(100, self._poll_steps)
            except tk.TclError:  # the dialog is gone
                self.running = False

    def _finish(self) -> None:
        self.running = False
        self._poll_steps()
        if self.frame.winfo_exists():
            self.button.state(["!disabled"])

    def _done(self, result: Discovery) -> None:
        if not self.frame.winfo_exists():
            return
        self._finish()
        self.result = result
        found = result.found
        if found is None:
            self.status.configure(text=_("No settings found; enter the server below."))
            return
        if found.host is None:
            self.status.configure(text=_("{provider} has no POP3 server.").format(
                provider=found.provider))
        else:
            where = _(_SOURCES[found.source]) if found.source in _SOURCES else found.source
            how = _("OAuth2 sign-in") if found.auth == "oauth2" else _("password")
            self.status.configure(text=_(
                "Found {provider} ({source}): {host}, port {port}, {security}, {sign_in}. "
                "Check and edit below if needed.").format(
                    provider=found.provider, source=where, host=found.host, port=found.port,
                    security=found.security.upper(), sign_in=how))
        notes = [n for n in found.notes if not n.startswith("Help: ")]
        if notes:
            self.notes.configure(text="\n".join(_(n) for n in notes))  # N_() in providers
            self.notes.pack(anchor="w", pady=(2, 0), before=self.steps)
        if found.url:
            self.url = found.url
            self.link.configure(text=found.url)
            self.link_row.pack(anchor="w", pady=(2, 0), before=self.steps)
        self.on_found(found)

    def _failed(self, exc: BaseException) -> None:
        if not self.frame.winfo_exists():
            return
        self._finish()
        text = str(exc) if isinstance(exc, DiscoveryError) else _("Lookup failed: {error}").format(
            error=exc)
        self.status.configure(text=text)

    # -- the link ----------------------------------------------------------------------
    def open_link(self) -> None:
        if self.url:
            self.open_url(self.url)

    def copy_link(self) -> None:
        if self.url:
            self.frame.clipboard_clear()
            self.frame.clipboard_append(self.url)
            self.status.configure(text=_("Link copied."))

    def clear(self) -> None:
        self.result = None
        self.url = None
        self._shown_steps = []
        for widget in (self.notes, self.link_row, self.steps):
            widget.pack_forget()
        self.status.configure(text="")


def _step_text(step: Step) -> str:
    """A discovery step in the user's language (the data keeps the English)."""
    return _("{name} ({target}): {outcome}").format(
        name=_(step.name), target=step.target, outcome=_(step.outcome) if step.outcome else "")


_SOURCES = {"builtin": N_("built-in table"), "autoconfig": N_("the provider's autoconfig"),
            "well-known": N_("the domain's autoconfig"), "ispdb": N_("Thunderbird's ISPDB"),
            "mx": N_("the domain's mail servers"), "guess": N_("a probe of common names")}
