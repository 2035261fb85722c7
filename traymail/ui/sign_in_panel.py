"""The Settings dialog's "Sign in…" for OAuth2 accounts (Microsoft, Google, ...).

The sign-in runs in a worker thread (:mod:`traymail.oauth_flows`): the browser
redirect opens the system browser; the device flow shows the link and the
code here, in a read-only field the user can select and copy (and a Copy
button). Only the Tk thread touches the widgets; the worker posts to it.
"""

from __future__ import annotations

import threading
import tkinter as tk
import webbrowser
from collections.abc import Callable
from tkinter import ttk
from typing import Any

from ..i18n import _
from ..oauth import TokenManager
from ..oauth_flows import DeviceCode, sign_in
from ..settings import Account, AuthMethod
from .worker import TkBridge

__all__ = ["SignInPanel"]


class SignInPanel:
    def __init__(self, parent: tk.Misc, bridge: TkBridge,
                 account: Callable[[], Account | None], *,
                 tokens: TokenManager | None = None,
                 on_signed_in: Callable[[Account], object] | None = None,
                 open_browser: Callable[[str], object] = webbrowser.open) -> None:
        self.bridge = bridge
        self.account = account
        self.tokens = tokens
        self.on_signed_in = on_signed_in or (lambda a: None)
        self.open_browser = open_browser
        self.cancel = threading.Event()
        self.running = False
        self.frame = ttk.Frame(parent)
        self.button = ttk.Button(self.frame, text=_("Sign in…"), command=self.start)
        self.button.grid(row=0, column=0, sticky="w")
        self.status = ttk.Label(self.frame, text="", wraplength=330)
        self.status.grid(row=0, column=1, sticky="w", padx=8)
        self.shown = tk.StringVar(self.frame)
        self.field = ttk.Entry(self.frame, textvariable=self.shown, state="readonly", width=44)
        self.copy = ttk.Button(self.frame, text=_("Copy"), command=self._copy, width=-6)
        self.frame.bind("<Destroy>", lambda e: self.cancel.set(), add="+")

    def _show(self, text: str) -> None:
        """Put a link or a code where it can be selected and copied."""
        self.shown.set(text)
        self.field.grid(row=1, column=0, columnspan=2, sticky="ew", pady=(4, 0))
        self.copy.grid(row=1, column=2, sticky="w", padx=4, pady=(4, 0))

    def _copy(self) -> None:
        self.frame.clipboard_clear()
        self.frame.clipboard_append(self.shown.get())

    def _say(self, text: str, color: str = "") -> None:
        self.status.configure(text=text, foreground=color)

    def start(self) -> None:
        if self.running:
            return
        account = self.account()
        if account is None:
            return  # the form shows what is wrong
        if account.auth is not AuthMethod.OAUTH2:
            self._say(_('Choose "{method}" first.').format(
                method=_("Sign in with the provider (OAuth2)")), "#c0392b")
            return
        self.running = True
        self.cancel.clear()
        self.button.state(["disabled"])
        device = account.oauth2 is not None and account.oauth2.flow == "device"
        self._say(_("Waiting for the sign-in on the provider's page…") if not device
                  else _("Asking the provider for a code…"))
        post = self.bridge.post

        def on_code(code: DeviceCode) -> None:  # worker thread
            post(lambda: self._device_code(code))

        def on_url(url: str) -> None:  # worker thread
            post(lambda: self._show(url))

        def run() -> Any:
            return sign_in(account, manager=self.tokens, on_device_code=on_code, on_url=on_url,
                           open_browser=self.open_browser, cancel=self.cancel)

        self.bridge.submit(run, lambda _t: self._done(account), self._failed,
                           name="traymail-sign-in")

    def _device_code(self, code: DeviceCode) -> None:
        self._say(_("Open {url} and enter the code {code} (both can be copied below).").format(
            url=code.verification_uri, code=code.user_code))
        self._show(f"{code.user_code}   {code.verification_uri}")

    def _done(self, account: Account) -> None:
        self.running = False
        if not self.frame.winfo_exists():
            return
        self.button.state(["!disabled"])
        self.field.grid_remove()
        self.copy.grid_remove()
        self._say(_("Signed in to {account}.").format(account=account.name), "#1d6b2c")
        self.on_signed_in(account)

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        if not self.frame.winfo_exists():
            return
        self.button.state(["!disabled"])
        self._say(_("Not signed in: {error}").format(error=exc), "#c0392b")
