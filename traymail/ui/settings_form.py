"""The settings dialog's layout: the accounts list and language on the
left, the account form (address look-up, server, security, port, user,
sign-in method, password, interval, folders, connection test, sign-in
panel) and the buttons; its fixed size and wrapping (mixed into
:class:`~traymail.ui.settings_dialog.SettingsDialog`)."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import TYPE_CHECKING, Any

from ..i18n import _
from ..settings import Account, Security
from .connection_test import ConnectionTest
from .discover_panel import DiscoverPanel
from .settings_widgets import (
    AUTH_LABELS,
    INSECURE_BOX,
    LANGUAGE_HINT,
    ErrorLabel,
    auth_label,
    language_label,
    security_label,
)
from .sign_in_panel import SignInPanel

if TYPE_CHECKING:
    from ..accounts import Accounts
    from ..discover import Found, Options
    from .worker import TkBridge

__all__ = ["SettingsForm"]


class SettingsForm:
    """Builds the widgets; the variables and actions come from the dialog class."""

    if TYPE_CHECKING:  # provided by SettingsDialog
        top: tk.Toplevel
        bridge: TkBridge
        accounts: Accounts
        drafts: list[dict[str, Any]]
        vars: dict[str, tk.StringVar]
        security: tk.StringVar
        email: tk.StringVar
        auth: tk.StringVar
        enabled: tk.BooleanVar
        allow_insecure: tk.BooleanVar
        notifications: tk.BooleanVar
        start_with_system: tk.BooleanVar
        language: tk.StringVar
        language_codes: list[str]
        errors: dict[str, ErrorLabel]
        discover_options: Options | None
        open_url: Callable[[str], object] | None
        on_demo: Callable[[], object] | None
        on_signed_in: Callable[[Account], object] | None
        _list_selected: Callable[[], None]
        add_account: Callable[[], None]
        remove_account: Callable[[], None]
        fill_found: Callable[[Found], None]
        _security_changed: Callable[..., None]
        _browse: Callable[[], None]
        _test_target: Callable[[], tuple[Account, str | None] | None]
        _pin: Callable[[str], None]
        _sign_in_account: Callable[[], Account | None]
        _demo: Callable[[], None]
        save: Callable[[], bool]
        close: Callable[[], None]
        show_rules: Callable[[], Any]
        request_close: Callable[[], None]

    def _build(self) -> None:
        outer = ttk.Frame(self.top, padding=10)
        left = ttk.Frame(outer)
        left.pack(side="left", fill="y", padx=(0, 10))
        # the language first (at the bottom): in Tab order "Try the demo" stays
        # right before the e-mail address
        self.language_hint = ttk.Label(left, text=_(LANGUAGE_HINT), foreground="#555555",
                                       wraplength=150, justify="left")
        self.language_hint.pack(side="bottom", anchor="w")
        self.language_box = ttk.Combobox(left, textvariable=self.language, state="readonly",
                                         width=16,
                                         values=[language_label(c) for c in self.language_codes])
        self.language_box.pack(side="bottom", anchor="w", pady=(0, 2))
        ttk.Label(left, text=_("Language")).pack(side="bottom", anchor="w", pady=(8, 0))
        ttk.Label(left, text=_("Accounts")).pack(anchor="w")
        self.listbox = tk.Listbox(left, height=10, width=18, exportselection=False)
        self.listbox.pack(fill="y", expand=True)
        self.listbox.bind("<<ListboxSelect>>", lambda e: self._list_selected())
        row = ttk.Frame(left)
        row.pack(fill="x", pady=4)
        ttk.Button(row, text=_("Add account"), command=self.add_account).pack(side="left")
        ttk.Button(row, text=_("Remove"), command=self.remove_account, width=-7).pack(side="left")
        if self.on_demo is not None and not self.drafts:
            ttk.Button(left, text=_("Try the demo"), command=self._demo).pack(fill="x",
                                                                              pady=(8, 0))

        form = ttk.Frame(outer)
        form.pack(side="left", fill="both", expand=True)
        self.form = form
        r = 0

        def field(label: str, key: str, **kw: Any) -> ttk.Entry:
            nonlocal r
            ttk.Label(form, text=label).grid(row=r, column=0, sticky="w", pady=2)
            entry = ttk.Entry(form, textvariable=self.vars[key], **kw)
            entry.grid(row=r, column=1, sticky="ew", pady=2)
            err = ErrorLabel(form, text="", justify="left")
            err.grid(row=r + 1, column=1, sticky="w")
            self.errors[key] = err
            r += 2
            return entry

        self.entries: dict[str, ttk.Entry] = {}
        ttk.Label(form, text=_("E-mail address")).grid(row=r, column=0, sticky="nw", pady=2)
        self.finder = DiscoverPanel(form, self.bridge, self.email, self.fill_found,
                                    options=self.discover_options, open_url=self.open_url)
        self.finder.frame.grid(row=r, column=1, columnspan=2, sticky="ew", pady=2)
        self.errors["email"] = ErrorLabel(form, text="", justify="left")
        self.errors["email"].grid(row=r + 1, column=1, sticky="w")
        r += 2
        self.entries["name"] = field(_("Account name"), "name")
        self.entries["host"] = field(_("Server (host or IP)"), "host")
        ttk.Label(form, text=_("Security")).grid(row=r, column=0, sticky="nw", pady=2)
        sec = ttk.Frame(form)
        sec.grid(row=r, column=1, sticky="w")
        for i, value in enumerate(Security):  # one row: the form must fit 768 pixels
            ttk.Radiobutton(sec, text=security_label(value), value=value.value,
                            variable=self.security,
                            command=self._security_changed).grid(row=0, column=i, sticky="w",
                                                                  padx=(0, 10))
        self.insecure_box = ttk.Checkbutton(sec, text=_(INSECURE_BOX),
                                            variable=self.allow_insecure)
        self.errors["security"] = ErrorLabel(form, text="", justify="left")
        self.errors["security"].grid(row=r + 1, column=1, sticky="w")
        r += 2
        self.entries["port"] = field(_("Port"), "port", width=8)
        self.entries["port"].grid_configure(sticky="w")
        self.entries["username"] = field(_("User name"), "username")
        ttk.Label(form, text=_("Sign in with")).grid(row=r, column=0, sticky="w", pady=2)
        self.auth_box = ttk.Combobox(form, textvariable=self.auth, state="readonly",
                                     values=[auth_label(m) for m in AUTH_LABELS])
        self.auth_box.grid(row=r, column=1, sticky="w", pady=2)
        self.errors["auth"] = ErrorLabel(form, text="", justify="left")
        self.errors["auth"].grid(row=r + 1, column=1, sticky="w")
        r += 2
        self.entries["password"] = field(_("Password"), "password", show="•")
        self.entries["check_interval_minutes"] = field(_("Check every (minutes)"),
                                                       "check_interval_minutes", width=8)
        self.entries["check_interval_minutes"].grid_configure(sticky="w")
        self.entries["download_dir"] = field(_("Download folder"), "download_dir")
        ttk.Button(form, text=_("Browse…"), command=self._browse).grid(
            row=r - 2, column=2, padx=4)
        self.entries["cafile"] = field(_("CA file (optional)"), "cafile")
        ttk.Checkbutton(form, text=_("Check this account"), variable=self.enabled).grid(
            row=r, column=1, sticky="w")
        r += 1
        self.tester = ConnectionTest(form, self.bridge, self.accounts, self._test_target,
                                     self._pin)
        self.tester.frame.grid(row=r, column=1, columnspan=2, sticky="ew", pady=(6, 0))
        self.test_button, self.test_label = self.tester.button, self.tester.label
        self.sign_in = SignInPanel(form, self.bridge, self._sign_in_account,
                                   tokens=self.accounts.tokens, on_signed_in=self.on_signed_in)
        self.sign_in.frame.grid(row=r + 1, column=1, columnspan=2, sticky="ew", pady=(6, 0))
        self.sign_in.frame.grid_remove()  # shown for OAuth2 accounts only
        form.columnconfigure(1, weight=1)
        for label in self.errors.values():
            label.grid_remove()  # shown when they have something to say
        form.bind("<Configure>", lambda e: self._wrap(), add="+")

        # the buttons are packed before the form: a small window squeezes the form, never them
        bottom = ttk.Frame(self.top, padding=(10, 0, 10, 10))
        ttk.Checkbutton(bottom, text=_("Show notifications"),
                        variable=self.notifications).pack(side="left")
        ttk.Checkbutton(bottom, text=_("Start with the system"),
                        variable=self.start_with_system).pack(side="left", padx=10)
        self.save_button = ttk.Button(bottom, text=_("Save"), command=self.save)  # Tab: Save first
        self.cancel_button = ttk.Button(bottom, text=_("Cancel"), command=self.close)
        self.cancel_button.pack(side="right")
        self.save_button.pack(side="right", padx=6)
        ttk.Button(bottom, text=_("Rules…"), command=self.show_rules).pack(side="right")
        self.general_error = ttk.Label(self.top, text="", foreground="#c0392b",
                                       padding=(10, 0, 10, 8))
        self.general_error.pack(side="bottom", fill="x")
        bottom.pack(side="bottom", fill="x")
        outer.pack(side="top", fill="both", expand=True)
        self.bottom = bottom
        self.top.bind("<Escape>", lambda e: self.request_close())

    def _wrap(self) -> None:
        """Messages wrap at the width of the fields' column (the window's width
        is fixed: a long message adds lines, it never widens the dialog)."""
        width = self.entries["host"].winfo_width()
        if width <= 1:
            return
        for label in self.errors.values():
            label.configure(wraplength=width)
        self.tester.set_wrap(width)
        self.finder.set_wrap(width)

    def _fix_size(self) -> None:
        """One size for the dialog's life, with room for the messages that come
        and go (the window never jumps at each action); the minimum keeps the
        buttons visible."""
        self.top.update_idletasks()
        width, height = self.top.winfo_reqwidth(), self.top.winfo_reqheight()
        screen_h = self.top.winfo_screenheight()
        fixed_h = max(min(height + 160, screen_h - 60), min(height, screen_h - 60))
        self.top.minsize(width, min(height, fixed_h))
        self.top.geometry(f"{width + 40}x{fixed_h}")
