"""The settings dialog: accounts (e-mail address with "Find settings", host or
IP, port, security, user, sign-in method, password in the keyring, interval,
download folder), notifications, start with the system, the language, and a
"Test connection" that runs off the Tk thread."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Any

from ..accounts import Accounts
from ..discover import Found, Options
from ..i18n import AUTO, N_, _, apply_settings_language, available_languages
from ..settings import Account, AuthMethod, Security, Settings, SettingsError, parse_settings
from .root import Window
from .settings_form import SettingsForm
from .settings_hints import FieldHints
from .settings_widgets import (
    AUTH_LABELS,
    FIELDS,
    INSECURE_BOX,
    SECURITY_LABELS,
    ErrorLabel,
    ask_discard,
    auth_label,
    draft_json,
    draft_of,
    language_label,
)
from .worker import TkBridge

__all__ = ["SettingsDialog", "AUTH_LABELS", "SECURITY_LABELS"]

#: fields whose change makes a shown test result stale
CONNECTION_FIELDS = ("host", "port", "username", "password", "cafile", "security", "email",
                     "auth")
# the English texts (msgids); shown through _()
PLAIN_TEXT_REFUSED = N_('Tick "{box}" above to connect without encryption, or '
                        "choose SSL/TLS or STARTTLS.")
PLAIN_TEXT_WARNING = N_("Warning: your password and mail cross the network unencrypted.")


def plain_text_refused() -> str:
    return _(PLAIN_TEXT_REFUSED).format(box=_(INSECURE_BOX))


class SettingsDialog(SettingsForm, Window):
    def __init__(self, root: tk.Misc, bridge: TkBridge, accounts: Accounts, *,
                 on_saved: Callable[[Settings], object] | None = None,
                 on_demo: Callable[[], object] | None = None,
                 discover_options: Options | None = None,
                 open_url: Callable[[str], object] | None = None,
                 on_signed_in: Callable[[Account], object] | None = None,
                 confirm_discard: Callable[[tk.Misc], bool] = ask_discard) -> None:
        self.on_signed_in = on_signed_in
        self.discover_options = discover_options
        self.open_url = open_url
        self.bridge = bridge
        self.accounts = accounts
        self.on_saved = on_saved or (lambda s: None)
        self.on_demo = on_demo
        self.confirm_discard = confirm_discard
        self.top = tk.Toplevel(root)
        self.top.title(_("traymail — settings"))
        self.drafts: list[dict[str, Any]] = [draft_of(a) for a in accounts.settings.accounts]
        self.passwords: dict[int, str] = {}
        self.current: int | None = None
        self.vars = {f: tk.StringVar() for f in FIELDS}
        self.security = tk.StringVar(value=Security.SSL.value)
        self.email = tk.StringVar()
        self.auth = tk.StringVar(value=auth_label(AuthMethod.PASSWORD))
        self.enabled = tk.BooleanVar(value=True)
        self.allow_insecure = tk.BooleanVar(value=False)
        self.notifications = tk.BooleanVar(value=accounts.settings.notifications)
        self.start_with_system = tk.BooleanVar(value=accounts.settings.start_with_system)
        #: the "language" setting's choices: auto, then each language with a catalog
        self.language_codes = [AUTO, *available_languages()]
        if accounts.settings.language not in self.language_codes:
            self.language_codes.append(accounts.settings.language)
        self.language = tk.StringVar(value=language_label(accounts.settings.language))
        self.port_typed = False
        #: something was edited since the dialog opened (Escape asks first)
        self.dirty = False
        self._loading = 0
        self.errors: dict[str, ErrorLabel] = {}
        self.saving = False
        self._build()
        self.hints = FieldHints(self)
        self._loading += 1
        if self.drafts:
            self.select(0)
        else:
            self.add_account()
        self._loading -= 1
        self.dirty = False
        self._trace()
        self._fix_size()
        self.top.protocol("WM_DELETE_WINDOW", self.request_close)

    # -- the connection test (ui/connection_test.py) --------------------------------
    @property
    def test_result(self) -> str:
        return self.tester.result

    @test_result.setter
    def test_result(self, value: str) -> None:
        self.tester.result = value

    @property
    def trust_button(self) -> ttk.Button:
        return self.tester.trust_button

    @property
    def offered_fingerprint(self) -> str | None:
        return self.tester.offered_fingerprint

    def test_connection(self) -> None:
        self.tester.start()

    def trust_certificate(self) -> None:
        self.tester.trust()

    def _test_target(self) -> tuple[Account, str | None] | None:
        settings = self.build_settings()
        if settings is None or self.current is None:
            return None
        return settings.accounts[self.current], self.passwords.get(self.current)

    def _pin(self, fingerprint: str) -> None:
        if self.current is not None:
            self.drafts[self.current]["pinned_sha256"] = fingerprint
            self.dirty = True

    def _trace(self) -> None:
        named: list[tuple[str, tk.Variable]] = [*self.vars.items(), ("security", self.security),
                                                 ("email", self.email), ("auth", self.auth),
                                                 ("enabled", self.enabled),
                                                 ("allow_insecure", self.allow_insecure),
                                                 ("notifications", self.notifications),
                                                 ("start_with_system", self.start_with_system),
                                                 ("language", self.language)]
        for name, var in named:
            var.trace_add("write", lambda *_, n=name: self._edited(n))  # type: ignore[misc]

    def _edited(self, name: str) -> None:
        """A user's change (programmatic loads are not): mark the dialog edited,
        drop a stale test result, keep the hints and the port rule current."""
        if self._loading:
            return
        self.dirty = True
        if name in CONNECTION_FIELDS:
            self.tester.clear()
        if name == "port":  # typed by the user: kept when the security changes
            self.port_typed = self.vars["port"].get().strip() != str(self._default_port())
        elif name == "allow_insecure" and self.allow_insecure.get():
            self.errors["security"].configure(text=_(PLAIN_TEXT_WARNING))
        elif name == "name":
            self.hints.download()
        elif name == "auth":
            self._auth_changed()
        if name in ("host", "port", "username", "security", "password", "auth"):
            self.hints.schedule_password()

    def _auth_changed(self) -> None:
        if self.auth.get() == auth_label(AuthMethod.OAUTH2):
            self.sign_in.frame.grid()
        else:
            self.sign_in.frame.grid_remove()

    # -- drafts ------------------------------------------------------------------
    def _refresh_list(self) -> None:
        self.listbox.delete(0, "end")
        for d in self.drafts:
            self.listbox.insert("end", d.get("name") or _("(new account)"))
        if self.current is not None:
            self.listbox.selection_clear(0, "end")
            self.listbox.selection_set(self.current)

    def _list_selected(self) -> None:
        sel = self.listbox.curselection()
        if sel and sel[0] != self.current:
            self.store_form()
            self.select(sel[0])

    def select(self, index: int) -> None:
        self._loading += 1
        try:
            self._select(index)
        finally:
            self._loading -= 1
        self.tester.clear()  # a result is about the account it was made for
        self._auth_changed()
        self.hints.download()
        self.hints.password()

    def _select(self, index: int) -> None:
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
        self.auth.set(auth_label(AuthMethod(d.get("auth") or "password")))
        self.finder.clear()
        self.enabled.set(bool(d.get("enabled", True)))
        self.allow_insecure.set(bool(d.get("allow_insecure", False)))
        port = d.get("port")
        self.port_typed = port not in (None, "") and str(port) != str(self._default_port())
        if port in (None, ""):
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
        d["auth"] = next((m.value for m in AUTH_LABELS
                          if auth_label(m) == self.auth.get()), "password")
        d["enabled"] = self.enabled.get()
        d["allow_insecure"] = self.allow_insecure.get() and d["security"] == "none"
        if self.vars["password"].get():
            self.passwords[self.current] = self.vars["password"].get()

    def add_account(self) -> None:
        self.store_form()
        self.drafts.append({"name": _("Account {n}").format(n=len(self.drafts) + 1), "host": "",
                            "username": "", "security": "ssl", "port": None,
                            "check_interval_minutes": 5, "enabled": True})
        self.dirty = True
        self.select(len(self.drafts) - 1)
        self.finder.entry.focus_set()  # "Add account" starts from the address

    def fill_found(self, found: Found) -> None:
        """Discovery found settings: fill the form (the user may change it all)."""
        if self.current is None or found.host is None:
            return
        d = self.drafts[self.current]
        self.vars["host"].set(found.host)
        self.security.set(found.security)
        self.vars["port"].set(str(found.port))  # typed when not the default (the trace)
        self._security_changed(keep_port=True)
        if found.username and not self.vars["username"].get().strip():
            self.vars["username"].set(found.username)
        auth = AuthMethod.OAUTH2 if found.auth == "oauth2" else AuthMethod.PASSWORD
        self.auth.set(auth_label(auth))
        if auth is AuthMethod.OAUTH2 and found.oauth2_provider and not d.get("oauth2"):
            d["oauth2"] = {"provider": found.oauth2_provider}
        name = self.vars["name"].get().strip()
        if not name or _is_numbered(name):
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
        self.dirty = True
        if self.drafts:
            self.select(0)
        else:
            self.add_account()

    def _default_port(self) -> int:
        return 995 if self.security.get() == "ssl" else 110

    def _security_changed(self, keep_port: bool = False) -> None:
        """The port follows the security choice unless the user typed one."""
        if not self.port_typed and not keep_port:
            self.vars["port"].set(str(self._default_port()))
        if self.security.get() == "none":
            self.insecure_box.grid(row=1, column=0, columnspan=3, sticky="w")
            self.errors["security"].configure(text=_(PLAIN_TEXT_WARNING))
        else:
            self.insecure_box.grid_remove()
            self.errors["security"].configure(text="")

    def _browse(self) -> None:
        """The download folder: start in the one set (or the default), or the
        nearest folder above it that exists."""
        current = self.vars["download_dir"].get().strip()
        start = Path(current).expanduser() if current else \
            self.accounts.paths.download_dir_for(Account(self.vars["name"].get().strip()
                                                         or "account", "-", "-"))
        while not start.is_dir() and start.parent != start:
            start = start.parent
        path = filedialog.askdirectory(parent=self.top, mustexist=False,
                                       initialdir=str(start), title=_("Download folder"))
        if path:
            self.vars["download_dir"].set(path)

    # -- validation and saving ----------------------------------------------------
    def _clear_errors(self) -> None:
        for key, label in self.errors.items():
            if key != "security" or self.security.get() != "none":
                label.configure(text="")
            elif label.error != _(PLAIN_TEXT_WARNING):
                label.configure(text=_(PLAIN_TEXT_WARNING))
        self.general_error.configure(text="")

    def build_settings(self) -> Settings | None:
        """Validate every account; show the first problem next to its field."""
        self.store_form()
        self._clear_errors()
        data = {"schema_version": 1,
                "accounts": [draft_json(d) for d in self.drafts],
                "notifications": self.notifications.get(),
                "start_with_system": self.start_with_system.get(),
                "language": self.language_code(),
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
            if key == "security" and self.security.get() == "none":
                # the settings.json wording names "allow_insecure"; here it is a box
                self.errors["security"].configure(text=plain_text_refused())
                self.insecure_box.focus_set()
                return
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
        self.general_error.configure(text=_("Saving…"), foreground="")

        def saved(_: object) -> None:
            self.saving = False
            apply_settings_language(settings)  # windows opened from now on speak it
            if self.alive:
                self.close()
            self.on_saved(settings)

        def failed(exc: BaseException) -> None:  # keyring unavailable, disk full...
            self.saving = False
            if self.alive:
                self.general_error.configure(text=_("Not saved: {error}").format(error=exc),
                                             foreground="#c0392b")

        self.bridge.submit(lambda: self.accounts.apply(settings, passwords), saved, failed)
        return True

    def language_code(self) -> str:
        """The "language" setting the Language choice names."""
        shown = self.language.get()
        return next((c for c in self.language_codes if language_label(c) == shown),
                    self.accounts.settings.language)

    def _sign_in_account(self) -> Account | None:
        """The account as the form has it now (validated), for "Sign in…"."""
        settings = self.build_settings()
        if settings is None or self.current is None:
            return None
        return settings.accounts[self.current]

    def _demo(self) -> None:
        if self.on_demo is not None:
            self.close()
            self.on_demo()

    def request_close(self) -> None:
        """Escape or the window's close button: ask before dropping edits."""
        if self.saving:
            return
        if self.dirty and not self.confirm_discard(self.top):
            return
        self.close()

    def show_rules(self) -> Any:
        """The Rules window (traymail.ui.rules_window), opened from here."""
        from .rules_window import RulesWindow

        window = getattr(self, "rules_window", None)
        if window is None or not window.alive:
            window = self.rules_window = RulesWindow(self.top, self.accounts)
        window.top.lift()
        return window

    def close(self) -> None:
        self.hints.cancel()
        self.destroy_window()


def _is_numbered(name: str) -> bool:
    """A name the dialog gave ("Account 2", in English or the current language)."""
    for template in ("Account {n}", _("Account {n}")):
        head, _sep, tail = template.partition("{n}")
        if name.startswith(head) and name.endswith(tail) \
                and name[len(head):len(name) - len(tail)].isdigit():
            return True
    return False


# -- rules (traymail.ui.rules_window) ------------------------------------------------

def _rules_part(settings: Settings) -> dict[str, Any]:
    from ..settings import settings_to_json

    return {k: v for k, v in settings_to_json(settings).items()
            if k in ("rules", "friends", "blocked", "quiet_hours")}

