"""Settings > Add account: type an address, "Find settings" runs discovery in
a worker (real Tk on Xvfb, a local autoconfig server), the form is filled,
the notes and their link show, the user edits and saves."""

from __future__ import annotations

import os
import tkinter as tk
from collections.abc import Iterator
from pathlib import Path

import pytest

from traymail.accounts import Accounts
from traymail.passwords import MemoryStore
from traymail.settings import AuthMethod, Settings, load_settings, resolve_paths
from traymail.ui.settings_dialog import AUTH_LABELS, SettingsDialog
from traymail.ui.worker import TkBridge

from .desktop import xdotool
from .test_discover import DATA, Web
from .uitools import center, pump, screenshot


@pytest.fixture
def web() -> Iterator[Web]:
    with Web.running() as w:
        yield w


@pytest.mark.posix_only("drives X input with xdotool")
def test_add_account_from_an_address(root: tk.Tk, web: Web, tmp_path: Path,
                                     x_display: str) -> None:
    web.autoconfig("subdomain.example", "subdomain.example.xml")
    web.slow.add("/autoconfig/subdomain.example/mail/config-v1.1.xml")  # 3 s: UI must live on
    home = tmp_path / "home"
    accounts = Accounts(resolve_paths(home=home), Settings(), passwords=MemoryStore())
    opened: list[str] = []
    saved: list[Settings] = []
    dlg = SettingsDialog(root, TkBridge(root), accounts, on_saved=saved.append,
                         discover_options=web.options(timeout=5), open_url=opened.append)
    dlg.top.geometry("+10+10")
    root.update()

    # Gmail: the built-in table; typed for real, Return starts the search
    dlg.top.focus_force()
    dlg.finder.entry.focus_set()
    pump(root, timeout=0.2)
    xdotool(x_display, "type", "--delay", "5", "me@gmail.com")
    xdotool(x_display, "key", "Return")
    assert pump(root, lambda: dlg.finder.result is not None)
    assert dlg.email.get() == "me@gmail.com"
    assert dlg.vars["host"].get() == "pop.gmail.com" and dlg.vars["port"].get() == "995"
    assert dlg.security.get() == "ssl" and dlg.vars["username"].get() == "me@gmail.com"
    assert dlg.vars["name"].get() == "Gmail"
    assert "app password" in dlg.finder.notes.cget("text")
    assert dlg.finder.link.cget("text") == "https://support.google.com/mail/answer/7104828"
    assert "built-in table (gmail.com): Gmail" in dlg.finder.steps.cget("text")
    x, y = center(dlg.finder.link)
    xdotool(x_display, "mousemove", str(x), str(y), "click", "1")
    assert pump(root, lambda: opened == ["https://support.google.com/mail/answer/7104828"])
    root.update_idletasks()
    assert dlg.top.winfo_reqheight() <= 720  # with the notes open it still fits 1366x768
    dlg.finder.copy_button.invoke()
    assert root.clipboard_get() == "https://support.google.com/mail/answer/7104828"
    out = os.environ.get("SCREENSHOT_DIR") or str(tmp_path)
    screenshot(x_display, os.path.join(out, "settings-add-account.png"),
               (dlg.top.winfo_rootx(), dlg.top.winfo_rooty(),
                dlg.top.winfo_rootx() + dlg.top.winfo_width(),
                dlg.top.winfo_rooty() + dlg.top.winfo_height()))

    # a second account from a domain's autoconfig, served slowly: the Tk thread keeps going
    dlg.add_account()
    dlg.email.set("tom.b@subdomain.example")
    dlg.finder.button.invoke()
    assert dlg.finder.running and "Looking up" in dlg.finder.status.cget("text")
    ticks = 0

    def tick() -> bool:
        nonlocal ticks
        ticks += 1
        return dlg.finder.result is not None

    assert pump(root, tick, timeout=10)
    assert ticks > 50  # the event loop ran all along (3 s of a slow server)
    assert "✓ autoconfig" in dlg.finder.steps.cget("text")
    assert dlg.vars["host"].get() == "pop.subdomain.example"
    assert dlg.vars["username"].get() == "tom.b"
    assert "Turn on POP access" in dlg.finder.notes.cget("text")
    dlg.vars["host"].set("pop3.subdomain.example")  # the user can always edit
    dlg.vars["password"].set("pw")

    # Outlook: OAuth2 is proposed, with the provider for sign-in
    dlg.add_account()
    dlg.email.set("someone@outlook.com")
    dlg.finder.find()
    assert pump(root, lambda: dlg.finder.result is not None)
    assert dlg.auth.get() == AUTH_LABELS[AuthMethod.OAUTH2]
    assert "Microsoft turned off passwords" in dlg.finder.notes.cget("text")

    # iCloud: told there is no POP; nothing filled in
    dlg.add_account()
    dlg.email.set("x@icloud.com")
    dlg.finder.find()
    assert pump(root, lambda: dlg.finder.result is not None)
    assert "no POP3" in dlg.finder.status.cget("text") and dlg.vars["host"].get() == ""
    dlg.remove_account()

    # a bad address is explained, nothing else happens
    dlg.email.set("not-an-address")
    dlg.finder.find()
    assert pump(root, lambda: "not an e-mail address" in dlg.finder.status.cget("text"))

    dlg.select(0)
    dlg.vars["password"].set("app-password")
    assert dlg.save()
    assert pump(root, lambda: saved)
    on_disk = load_settings(home / "settings.json")
    gmail, sub, outlook = on_disk.accounts[:3]
    assert (gmail.host, gmail.email, gmail.auth) == ("pop.gmail.com", "me@gmail.com",
                                                     AuthMethod.PASSWORD)
    assert (sub.host, sub.username) == ("pop3.subdomain.example", "tom.b")
    assert outlook.auth is AuthMethod.OAUTH2 and outlook.oauth2 is not None
    assert outlook.oauth2.provider == "microsoft" and outlook.host == "outlook.office365.com"
    assert len(on_disk.accounts) == 3 and gmail.name == "Gmail" and outlook.name == "Outlook.com"
    assert (DATA / "subdomain.example.xml").exists()
