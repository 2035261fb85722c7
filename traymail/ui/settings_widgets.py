"""Pieces of the Settings dialog: labels, the message under a field, the
"discard your changes?" question."""

from __future__ import annotations

import dataclasses
from tkinter import messagebox, ttk
from typing import Any

from ..i18n import AUTO, N_, _
from ..settings import Account, AuthMethod, Security

__all__ = ["FIELDS", "SECURITY_LABELS", "AUTH_LABELS", "ErrorLabel", "ask_discard",
           "INSECURE_BOX", "HINT_COLOUR", "draft_of", "draft_json", "auth_label",
           "security_label", "LANGUAGE_NAMES", "language_label", "LANGUAGE_HINT"]

FIELDS = ("name", "host", "port", "username", "password", "check_interval_minutes",
          "download_dir", "cafile")
# the English texts (msgids): show them through auth_label()/security_label()/_()
SECURITY_LABELS = {Security.SSL: N_("SSL/TLS (995)"), Security.STARTTLS: N_("STARTTLS (110)"),
                   Security.NONE: N_("None (plain text)")}
AUTH_LABELS = {AuthMethod.PASSWORD: N_("Password (USER/PASS)"),
               AuthMethod.PLAIN: N_("Password (AUTH PLAIN)"),
               AuthMethod.OAUTH2: N_("Sign in with the provider (OAuth2)")}
INSECURE_BOX = N_("Yes, send my password unencrypted")
#: each language by its own name (never translated: a reader finds their own)
LANGUAGE_NAMES = {AUTO: N_("Automatic"), "en": "English", "ru": "Русский"}
LANGUAGE_HINT = N_("Applied when you save; open windows keep their language until reopened.")


def auth_label(method: AuthMethod) -> str:
    """The sign-in method as the dialog shows it, in the current language."""
    return _(AUTH_LABELS[method])


def security_label(security: Security) -> str:
    return _(SECURITY_LABELS[security])


def language_label(code: str) -> str:
    """``auto`` -> "Automatic" (translated); a language by its own name."""
    return _(LANGUAGE_NAMES[AUTO]) if code == AUTO else LANGUAGE_NAMES.get(code, code)
HINT_COLOUR = "#555555"
ERROR_COLOUR = "#c0392b"


class ErrorLabel(ttk.Label):
    """The line under a field: its error in red, else its hint in grey, else
    nothing (no room taken: the form must fit a 768-pixel screen)."""

    hint = ""
    error = ""

    def __init__(self, master: Any, **kw: Any) -> None:
        kw.setdefault("wraplength", 400)  # until the form knows its column's width
        kw.setdefault("justify", "left")
        super().__init__(master, **kw)

    def configure(self, cnf: Any = None, **kw: Any) -> Any:
        if "text" in kw:
            error = self.error = str(kw["text"] or "")
            kw["foreground"] = ERROR_COLOUR if error else HINT_COLOUR
            kw["text"] = error or self.hint
        result = super().configure(cnf, **kw)
        if "text" in kw and self.winfo_manager() in ("grid", ""):
            if kw["text"]:
                self.grid()
            else:
                self.grid_remove()
        return result

    config = configure  # type: ignore[assignment]

    def set_hint(self, hint: str) -> None:
        self.hint = hint
        if not self.error:
            self.configure(text="")


def ask_discard(parent: Any) -> bool:
    """Escape with unsaved edits: ask (No is the default)."""
    return bool(messagebox.askyesno(
        _("Discard changes?"), _("Close Settings and discard your changes?"), parent=parent,
        icon="warning", default="no"))


def draft_of(account: Account) -> dict[str, Any]:
    """An account as the dialog edits it (plain values)."""
    d = dataclasses.asdict(account)
    d["security"] = account.security.value
    d["auth"] = account.auth.value
    return d


def draft_json(d: dict[str, Any]) -> dict[str, Any]:
    """A draft as settings.json has it (numbers as numbers; validation says the rest)."""
    out = {k: v for k, v in d.items() if k != "password" and v not in (None, "")}
    if "port" in out:
        try:
            out["port"] = int(out["port"])
        except (TypeError, ValueError):
            pass
    if "check_interval_minutes" in out:
        try:
            out["check_interval_minutes"] = float(out["check_interval_minutes"])
        except (TypeError, ValueError):
            pass
    return out
