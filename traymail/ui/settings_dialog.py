"""The settings dialog: accounts (e-mail address with "Find settings", host or
IP, port, security, user, sign-in method, password in the keyring, interval,
download folder), notifications, start with the system, and a "Test
connection" that runs off the Tk thread."""

from __future__ import annotations

import dataclasses
import tkinter as tk
from collections.abc import Callable
from tkinter import filedialog, ttk
from typing import Any

from ..accounts import Accounts
from ..discover import Found, Options
from ..session import probe
from ..settings import Account, AuthMethod, Security, Settings, SettingsError, parse_settings
from .discover_panel import DiscoverPanel
from .root import Window
from .sign_in_panel import SignInPanel
from .worker import TkBridge

__all__ = ["SettingsDialog"]

FIELDS = ("name", "host", "port", "username", "password", "check_interval_minutes",
          "download_dir", "cafile")
SECURITY_LABELS = {Security.SSL: "SSL/TLS (port 995)", Security.STARTTLS: "STARTTLS (port 110)",
                   Security.NONE: "None — password in plain text"}
AUTH_LABELS = {AuthMethod.PASSWORD: "Password (USER/PASS)",
               AuthMethod.PLAIN: "Password (AUTH PLAIN)",
               AuthMethod.OAUTH2: "Sign in with the provider (OAuth2)"}


class ErrorLabel(ttk.Label):
    """A message under a field that takes no room while it is empty (the form
    must fit a 768-pixel screen with the discovery notes open)."""

    def configure(self, cnf: Any = None, **kw: Any) -> Any:
        result = super().configure(cnf, **kw)
        if "text" in kw and self.winfo_manager() in ("grid", ""):
            if kw["text"]:
                self.grid()
            else:
                self.grid_remove()
        return result

    config = configure  # type: ignore[assignment]


class SettingsDialog(Window):
    def __init__(self, root: tk.Misc, bridge: TkBridge, accounts: Accounts, *,
                 on_saved: Callable[[Settings], object] | None = None,
                 on_demo: Callable[[], object] | None = None,
                 discover_options: Options | None = None,
                 open_url: Callable[[str], object] | None = None,
                 on_signed_in: Callable[[Account], object] | None = None) -> None:
        self.on_signed_in = on_signed_in
        self.discover_options = discover_options
        self.open_url = open_url
        self.bridge = bridge
        self.accounts = accounts
        self.on_saved = on_saved or (lambda s: None)
        self.on_demo = on_demo
        self.top = tk.Toplevel(root)
        self.top.title("traymail — settings")
        self.top.minsize(640, 440)
        self.drafts: list[dict[str, Any]] = [self._draft(a) for a in accounts.settings.accounts]
        self.passwords: dict[int, str] = {}
        self.current: int | None = None
        self.vars = {f: tk.StringVar() for f in FIELDS}
        self.security = tk.StringVar(value=Security.SSL.value)
        self.email = tk.StringVar()
        self.auth = tk.StringVar(value=AUTH_LABELS[AuthMethod.PASSWORD])
        self.enabled = tk.BooleanVar(value=True)
        self.allow_insecure = tk.BooleanVar(value=False)
        self.notifications = tk.BooleanVar(value=accounts.settings.notifications)
        self.start_with_system = tk.BooleanVar(value=accounts.settings.start_with_system)
        self.port_typed = False
        self.errors: dict[str, ttk.Label] = {}
        self.test_result = ""
        self.saving = False
        self._build()
        if self.drafts:
            self.select(0)
        else:
            self.add_account()
        self.top.protocol("WM_DELETE_WINDOW", self.close)

    @staticmethod
    def _draft(account: Account) -> dict[str, Any]:
        d = dataclasses.asdict(account)
        d["security"] = account.security.value
        d["auth"] = account.auth.value
        return d

    # -- layout ------------------------------------------------------------------
    def _build(self) -> None:
        outer = ttk.Frame(self.top, padding=10)
        outer.pack(fill="both", expand=True)
        left = ttk.Frame(outer)
        left.pack(side="left", fill="y", padx=(0, 10))
        ttk.Label(left, text="Accounts").pack(anchor="w")
        self.listbox = tk.Listbox(left, height=10, width=18, exportselection=False)
        self.listbox.pack(fill="y", expand=True)
        self.listbox.bind("<<ListboxSelect>>", lambda e: self._list_selected())
        row = ttk.Frame(left)
        row.pack(fill="x", pady=4)
        ttk.Button(row, text="Add account", command=self.add_account).pack(side="left")
        ttk.Button(row, text="Remove", command=self.remove_account, width=7).pack(side="left")
        if self.on_demo is not None and not self.drafts:
            ttk.Button(left, text="Try the demo", command=self._demo).pack(fill="x", pady=(8, 0))

        form = ttk.Frame(outer)
        form.pack(side="left", fill="both", expand=True)
        self.form = form
        r = 0

        def field(label: str, key: str, **kw: Any) -> ttk.Entry:
            nonlocal r
            ttk.Label(form, text=label).grid(row=r, column=0, sticky="w", pady=2)
            entry = ttk.Entry(form, textvariable=self.vars[key], **kw)
            entry.grid(row=r, column=1, sticky="ew", pady=2)
            err = ErrorLabel(form, text="", foreground="#c0392b")
            err.grid(row=r + 1, column=1, sticky="w")
            self.errors[key] = err
            r += 2
            return entry

        self.entries: dict[str, ttk.Entry] = {}
        ttk.Label(form, text="E-mail address").grid(row=r, column=0, sticky="nw", pady=2)
        self.finder = DiscoverPanel(form, self.bridge, self.email, self.fill_found,
                                    options=self.discover_options, open_url=self.open_url)
        self.finder.frame.grid(row=r, column=1, sticky="ew", pady=2)
        self.errors["email"] = ErrorLabel(form, text="", foreground="#c0392b")
        self.errors["email"].grid(row=r + 1, column=1, sticky="w")
        r += 2
        self.entries["name"] = field("Account name", "name")
        self.entries["host"] = field("Server (host or IP)", "host")
        ttk.Label(form, text="Security").grid(row=r, column=0, sticky="nw", pady=2)
        sec = ttk.Frame(form)
        sec.grid(row=r, column=1, sticky="w")
        for value in Security:
            ttk.Radiobutton(sec, text=SECURITY_LABELS[value], value=value.value,
                            variable=self.security,
                            command=self._security_changed).pack(anchor="w")
        self.insecure_box = ttk.Checkbutton(sec, text="Yes, send my password unencrypted",
                                            variable=self.allow_insecure)
        self.errors["security"] = ErrorLabel(form, text="", foreground="#c0392b")
        self.errors["security"].grid(row=r + 1, column=1, sticky="w")
        r += 2
        self.entries["port"] = field("Port", "port", width=8)
        self.entries["port"].bind("<Key>", lambda e: setattr(self, "port_typed", True))
        self.entries["username"] = field("User name", "username")
        ttk.Label(form, text="Sign in with").grid(row=r, column=0, sticky="w", pady=2)
        self.auth_box = ttk.Combobox(form, textvariable=self.auth, state="readonly",
                                     values=list(AUTH_LABELS.values()))
        self.auth_box.grid(row=r, column=1, sticky="w", pady=2)
        self.errors["auth"] = ErrorLabel(form, text="", foreground="#c0392b", wraplength=330)
        self.errors["auth"].grid(row=r + 1, column=1, sticky="w")
        r += 2
        self.entries["password"] = field("Password", "password", show="•")
        self.entries["check_interval_minutes"] = field("Check every (minutes)",
                                                       "check_interval_minutes", width=8)
        self.entries["download_dir"] = field("Download folder", "download_dir")
        ttk.Button(form, text="Browse…", command=self._browse).grid(
            row=r - 2, column=2, padx=4)
        self.entries["cafile"] = field("CA file (optional)", "cafile")
        ttk.Checkbutton(form, text="Check this account", variable=self.enabled).grid(
            row=r, column=1, sticky="w")
        r += 1
        test = ttk.Frame(form)
        test.grid(row=r, column=1, sticky="ew", pady=(6, 0))
        self.test_button = ttk.Button(test, text="Test connection", command=self.test_connection)
        self.test_button.pack(side="left")
        self.test_label = ttk.Label(test, text="", wraplength=330)
        self.test_label.pack(side="left", padx=8)
        self.trust_button = ttk.Button(form, text="Trust this certificate",
                                       command=self.trust_certificate)
        self.trust_row = r + 1
        self.offered_fingerprint: str | None = None
        self.sign_in = SignInPanel(form, self.bridge, self._sign_in_account,
                                   tokens=self.accounts.tokens, on_signed_in=self.on_signed_in)
        self.sign_in.frame.grid(row=r + 2, column=1, sticky="ew", pady=(6, 0))
        form.columnconfigure(1, weight=1)
        for label in self.errors.values():
            label.grid_remove()  # shown when they have something to say

        bottom = ttk.Frame(self.top, padding=(10, 0, 10, 10))
        bottom.pack(fill="x")
        ttk.Checkbutton(bottom, text="Show notifications",
                        variable=self.notifications).pack(side="left")
        ttk.Checkbutton(bottom, text="Start with the system",
                        variable=self.start_with_system).pack(side="left", padx=10)
        ttk.Button(bottom, text="Cancel", command=self.close).pack(side="right")
        ttk.Button(bottom, text="Save", command=self.save).pack(side="right", padx=6)
        ttk.Button(bottom, text="Rules…", command=self.show_rules).pack(side="right")
        self.general_error = ttk.Label(self.top, text="", foreground="#c0392b",
                                       padding=(10, 0, 10, 8))
        self.general_error.pack(fill="x")
        self.top.bind("<Escape>", lambda e: self.close())

    # -- drafts ------------------------------------------------------------------
    def _refresh_list(self) -> None:
        self.listbox.delete(0, "end")
        for d in self.drafts:
            self.listbox.insert("end", d.get("name") or "(new account)")
        if self.current is not None:
            self.listbox.selection_clear(0, "end")
            self.listbox.selection_set(self.current)

    def _list_selected(self) -> None:
        sel = self.listbox.curselection()
        if sel and sel[0] != self.current:
            self.store_form()
            self.select(sel[0])

    def select(self, index: int) -> None:
        self.current = index
        d = self.drafts[index]
        for key in FIELDS:
            value = self.passwords.get(index, "") if key == "password" else d.get(key)
            text = "" if value is None else str(value)
            if key == "check_interval_minutes":
                text = text.removesuffix(".0")
            self.vars[key].set(text)
        self.security.set(d.get("security", "ssl"))
        self.email.set(d.get("email") or "")
        self.auth.set(AUTH_LABELS[AuthMethod(d.get("auth") or "password")])
        self.finder.clear()
        self.enabled.set(bool(d.get("enabled", True)))
        self.allow_insecure.set(bool(d.get("allow_insecure", False)))
        self.port_typed = d.get("port") is not None and d.get("port") != self._default_port()
        if d.get("port") is None:
            self.vars["port"].set(str(self._default_port()))
        self._security_changed(keep_port=True)
        self._refresh_list()
        self._clear_errors()

    def store_form(self) -> None:
        if self.current is None:
            return
        d = self.drafts[self.current]
        for key in FIELDS:
            if key != "password":
                d[key] = self.vars[key].get().strip() or None
        d["security"] = self.security.get()
        d["email"] = self.email.get().strip() or None
        d["auth"] = next((m.value for m, label in AUTH_LABELS.items()
                          if label == self.auth.get()), "password")
        d["enabled"] = self.enabled.get()
        d["allow_insecure"] = self.allow_insecure.get() and d["security"] == "none"
        if self.vars["password"].get():
            self.passwords[self.current] = self.vars["password"].get()

    def add_account(self) -> None:
        self.store_form()
        self.drafts.append({"name": f"Account {len(self.drafts) + 1}", "host": "",
                            "username": "", "security": "ssl", "port": None,
                            "check_interval_minutes": 5, "enabled": True})
        self.select(len(self.drafts) - 1)
        self.finder.entry.focus_set()  # "Add account" starts from the address

    def fill_found(self, found: Found) -> None:
        """Discovery found settings: fill the form (the user may change it all)."""
        if self.current is None or found.host is None:
            return
        d = self.drafts[self.current]
        self.vars["host"].set(found.host)
        self.security.set(found.security)
        self.port_typed = found.port != self._default_port()
        self.vars["port"].set(str(found.port))
        self._security_changed(keep_port=True)
        if found.username and not self.vars["username"].get().strip():
            self.vars["username"].set(found.username)
        auth = AuthMethod.OAUTH2 if found.auth == "oauth2" else AuthMethod.PASSWORD
        self.auth.set(AUTH_LABELS[auth])
        if auth is AuthMethod.OAUTH2 and found.oauth2_provider and not d.get("oauth2"):
            d["oauth2"] = {"provider": found.oauth2_provider}
        name = self.vars["name"].get().strip()
        if not name or (name.startswith("Account ") and name[8:].isdigit()):
            self.vars["name"].set(found.provider)
            d["name"] = found.provider
            self._refresh_list()

    def remove_account(self) -> None:
        if self.current is None:
            return
        del self.drafts[self.current]
        self.passwords = {(i if i < self.current else i - 1): p
                          for i, p in self.passwords.items() if i != self.current}
        self.current = None
        if self.drafts:
            self.select(0)
        else:
            self.add_account()

    def _default_port(self) -> int:
        return 995 if self.security.get() == "ssl" else 110

    def _security_changed(self, keep_port: bool = False) -> None:
        if not self.port_typed and not keep_port:
            self.vars["port"].set(str(self._default_port()))
        if self.security.get() == "none":
            self.insecure_box.pack(anchor="w")
            self.errors["security"].configure(
                text="Warning: your password and mail cross the network unencrypted.")
        else:
            self.insecure_box.pack_forget()
            self.errors["security"].configure(text="")

    def _browse(self) -> None:
        path = filedialog.askdirectory(parent=self.top, mustexist=False)
        if path:
            self.vars["download_dir"].set(path)

    # -- validation and saving ----------------------------------------------------
    def _clear_errors(self) -> None:
        for key, label in self.errors.items():
            if key != "security" or self.security.get() != "none":
                label.configure(text="")
        self.general_error.configure(text="")

    def _account_json(self, d: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in d.items() if k not in ("password",) and v not in (None, "")}
        for key in ("port",):
            if key in out:
                try:
                    out[key] = int(out[key])
                except (TypeError, ValueError):
                    pass
        if "check_interval_minutes" in out:
            try:
                out["check_interval_minutes"] = float(out["check_interval_minutes"])
            except (TypeError, ValueError):
                pass
        return out

    def build_settings(self) -> Settings | None:
        """Validate every account; show the first problem next to its field."""
        self.store_form()
        self._clear_errors()
        data = {"schema_version": 1,
                "accounts": [self._account_json(d) for d in self.drafts],
                "notifications": self.notifications.get(),
                "start_with_system": self.start_with_system.get(),
                **_rules_part(self.accounts.settings)}  # kept as they are (Rules window)
        try:
            return parse_settings(data)
        except SettingsError as exc:
            self._show_error(exc)
            return None

    def _show_error(self, exc: SettingsError) -> None:
        field = exc.field
        if field.startswith("accounts["):
            index = int(field[len("accounts["):field.index("]")])
            key = field.split(".", 1)[1] if "." in field else ""
            if key.startswith("oauth2"):
                key = "auth"
            if index != self.current:
                self.select(index)
            if key in self.errors:
                self.errors[key].configure(text=exc.problem)
                if key in self.entries:
                    self.entries[key].focus_set()
                return
        self.general_error.configure(text=str(exc))

    def save(self) -> bool:
        """Validate here; write settings and passwords off the Tk thread (a
        keyring may take its time, or ask to be unlocked). False: invalid."""
        settings = self.build_settings()
        if settings is None:
            return False
        passwords = {self.drafts[i]["name"]: p for i, p in self.passwords.items()
                     if i < len(self.drafts)}
        self.saving = True
        self.general_error.configure(text="Saving…", foreground="")

        def saved(_: object) -> None:
            self.saving = False
            if self.alive:
                self.close()
            self.on_saved(settings)

        def failed(exc: BaseException) -> None:  # keyring unavailable, disk full...
            self.saving = False
            if self.alive:
                self.general_error.configure(text=f"Not saved: {exc}", foreground="#c0392b")

        self.bridge.submit(lambda: self.accounts.apply(settings, passwords), saved, failed)
        return True

    def test_connection(self) -> None:
        settings = self.build_settings()
        if settings is None or self.current is None:
            return
        account = settings.accounts[self.current]
        typed = self.passwords.get(self.current)
        self.test_button.state(["disabled"])
        self.test_label.configure(text="Testing…", foreground="")

        def done(text: str) -> None:
            self.test_result = text
            self.test_button.state(["!disabled"])
            self.test_label.configure(text=text, foreground="#1d6b2c")

        def failed(exc: BaseException) -> None:
            self.test_result = f"Failed: {exc}"
            self.test_button.state(["!disabled"])
            self.test_label.configure(text=self.test_result, foreground="#c0392b")
            fp = getattr(exc, "cert_sha256", None)
            if fp:
                self.offered_fingerprint = fp
                self.trust_button.grid(row=self.trust_row, column=1, sticky="w", pady=4)

        def run() -> str:  # the worker: the keyring is read here, not on the Tk thread
            if account.auth is AuthMethod.OAUTH2:  # the stored token, refreshed if needed
                return probe(account, None, tokens=self.accounts.tokens)
            password = typed or self.accounts.password(account)
            if not password:
                raise ValueError("enter the password to test the connection")
            return probe(account, password)

        self.bridge.submit(run,
                           lambda r: done(r) if self.alive else None,
                           lambda e: failed(e) if self.alive else None)

    def _sign_in_account(self) -> Account | None:
        """The account as the form has it now (validated), for "Sign in…"."""
        settings = self.build_settings()
        if settings is None or self.current is None:
            return None
        return settings.accounts[self.current]

    def trust_certificate(self) -> None:
        """Pin the certificate shown by the failed test for this account."""
        if self.current is None or not self.offered_fingerprint:
            return
        self.drafts[self.current]["pinned_sha256"] = self.offered_fingerprint
        self.trust_button.grid_remove()
        self.test_label.configure(text=f"Trusted {self.offered_fingerprint[:23]}…; "
                                  "test again, then Save.", foreground="")

    def _demo(self) -> None:
        if self.on_demo is not None:
            self.close()
            self.on_demo()

    def show_rules(self) -> Any:
        """The Rules window (traymail.ui.rules_window), opened from here."""
        from .rules_window import RulesWindow

        window = getattr(self, "rules_window", None)
        if window is None or not window.alive:
            window = self.rules_window = RulesWindow(self.top, self.accounts)
        window.top.lift()
        return window

    def close(self) -> None:
        self.destroy_window()


# -- rules (traymail.ui.rules_window) ------------------------------------------------

def _rules_part(settings: Settings) -> dict[str, Any]:
    from ..settings import settings_to_json

    return {k: v for k, v in settings_to_json(settings).items()
            if k in ("rules", "friends", "blocked", "quiet_hours")}

