"""Pieces of the Settings dialog: labels, the message under a field, the
"discard your changes?" question."""

from __future__ import annotations

import dataclasses
from tkinter import messagebox, ttk
from typing import Any

from ..settings import Account, AuthMethod, Security

__all__ = ["FIELDS", "SECURITY_LABELS", "AUTH_LABELS", "ErrorLabel", "ask_discard",
           "INSECURE_BOX", "HINT_COLOUR", "draft_of", "draft_json"]

FIELDS = ("name", "host", "port", "username", "password", "check_interval_minutes",
          "download_dir", "cafile")
SECURITY_LABELS = {Security.SSL: "SSL/TLS (995)", Security.STARTTLS: "STARTTLS (110)",
                   Security.NONE: "None (plain text)"}
AUTH_LABELS = {AuthMethod.PASSWORD: "Password (USER/PASS)",
               AuthMethod.PLAIN: "Password (AUTH PLAIN)",
               AuthMethod.OAUTH2: "Sign in with the provider (OAuth2)"}
INSECURE_BOX = "Yes, send my password unencrypted"
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
        "Discard changes?", "Close Settings and discard your changes?", parent=parent,
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
