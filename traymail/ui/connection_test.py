"""The Settings dialog's "Test connection": one probe (TLS, login, STAT) in a
worker thread, with Cancel while it waits, and "Trust this certificate" when
the server's certificate is not trusted.

A result belongs to the account and settings it was made for: :meth:`clear`
(called when the account or its connection fields change) drops what is
shown and any answer still on its way (a generation number)."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from ..accounts import Accounts
from ..i18n import _
from ..session import probe
from ..settings import Account, AuthMethod
from .worker import TkBridge

__all__ = ["ConnectionTest", "OK_COLOUR", "ERROR_COLOUR"]

OK_COLOUR = "#1d6b2c"
ERROR_COLOUR = "#c0392b"
#: the probe's own time bound (each network step)
TEST_TIMEOUT = 15.0


class ConnectionTest:
    def __init__(self, parent: tk.Misc, bridge: TkBridge, accounts: Accounts,
                 target: Callable[[], tuple[Account, str | None] | None],
                 on_trust: Callable[[str], object]) -> None:
        self.bridge = bridge
        self.accounts = accounts
        self.target = target
        self.on_trust = on_trust
        self.result = ""
        self.running = False
        self.timeout = TEST_TIMEOUT
        self.offered_fingerprint: str | None = None
        self._generation = 0
        self.frame = ttk.Frame(parent)
        self.button = ttk.Button(self.frame, text=_("Test connection"), command=self.start,
                                 width=-15)
        self.button.grid(row=0, column=0, sticky="nw")
        self.label = ttk.Label(self.frame, text="", wraplength=330, justify="left")
        self.label.grid(row=1, column=0, columnspan=2, sticky="w", pady=(2, 0))
        self.trust_button = ttk.Button(self.frame, text=_("Trust this certificate"),
                                       command=self.trust)
        self.frame.columnconfigure(1, weight=1)

    def set_wrap(self, width: int) -> None:
        self.label.configure(wraplength=width)

    def _say(self, text: str, colour: str = "") -> None:
        self.label.configure(text=text, foreground=colour)
        if text:
            self.label.grid()
        else:
            self.label.grid_remove()  # no room taken while there is nothing to say

    def start(self) -> None:
        """The button: start a test, or (while one runs) Cancel it."""
        if self.running:
            self.cancel()
            return
        target = self.target()
        if target is None:
            return  # the form shows what is wrong
        account, typed = target
        self.clear()
        self.running = True
        generation = self._generation
        self.button.configure(text=_("Cancel"))
        self._say(_("Testing {host}:{port}…").format(host=account.host,
                                                    port=account.effective_port))
        accounts, timeout = self.accounts, self.timeout

        def run() -> str:  # the worker: the keyring is read here, not on the Tk thread
            if account.auth is AuthMethod.OAUTH2:  # the stored token, refreshed if needed
                return probe(account, None, timeout=timeout, tokens=accounts.tokens)
            password = typed or accounts.password(account)
            if not password:
                raise ValueError(_("enter the password to test the connection"))
            return probe(account, password, timeout=timeout)

        def mine() -> bool:
            return generation == self._generation and self._alive()

        self.bridge.submit(run, lambda r: self._done(r) if mine() else None,
                           lambda e: self._failed(e) if mine() else None,
                           name="traymail-test-connection")

    def _alive(self) -> bool:
        try:
            return bool(self.frame.winfo_exists())
        except tk.TclError:
            return False

    def _finish(self) -> None:
        self.running = False
        self.button.configure(text=_("Test connection"))

    def _done(self, text: str) -> None:
        self._finish()
        self.result = text
        self._say(text, OK_COLOUR)

    def _failed(self, exc: BaseException) -> None:
        self._finish()
        self.result = _("Failed: {error}").format(error=exc)
        self._say(self.result, ERROR_COLOUR)
        fp = getattr(exc, "cert_sha256", None)
        if fp:
            self.offered_fingerprint = fp
            self.trust_button.grid(row=2, column=0, columnspan=2, sticky="w", pady=(4, 0))

    def cancel(self) -> None:
        """Stop waiting: the answer, when it comes, is dropped (the worker ends
        by the probe's own timeout; nothing it does is kept)."""
        if not self.running:
            return
        self._generation += 1
        self._finish()
        self.result = _("Cancelled.")
        self._say(self.result)

    def clear(self) -> None:
        """Another account, or its settings changed: the old result no longer applies."""
        self._generation += 1
        if self.running:
            self._finish()
        self.result = ""
        self.trust_button.grid_remove()
        self._say("")

    def trust(self) -> None:
        """Pin the certificate the failed test showed (for this account)."""
        fp = self.offered_fingerprint
        if not fp:
            return
        self.on_trust(fp)
        self.trust_button.grid_remove()
        self._say(_("Trusted {fingerprint}…; test again, then Save.").format(fingerprint=fp[:23]))
