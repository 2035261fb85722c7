"""The Settings dialog as a new user meets it (issue 13): real Tk on Xvfb,
real typing, tabbing and clicking with xdotool, real Tk dialogs answered
from the keyboard, real POP3 servers (devserver, TLS with a generated cert)."""

from __future__ import annotations

import json
import threading
import tkinter as tk
from collections.abc import Callable
from pathlib import Path

import pytest

from traymail.accounts import Accounts
from traymail.devserver import DevServer, Faults
from traymail.passwords import MemoryStore
from traymail.settings import Account, Security, Settings, resolve_paths
from traymail.ui import settings_hints
from traymail.ui.settings_dialog import SettingsDialog
from traymail.ui.worker import TkBridge

from .desktop import xdotool
from .uitools import center, pump

MakeServer = Callable[..., DevServer]
def dialog(root: tk.Tk, home: Path, *accounts: Account, password: str | None = "pass",
           **kw: object) -> SettingsDialog:
    store = MemoryStore()
    if password is not None:
        for a in accounts:
            store.set(a, password)
    acc = Accounts(resolve_paths(home=home), Settings(accounts), passwords=store)
    dlg = SettingsDialog(root, TkBridge(root), acc, **kw)  # type: ignore[arg-type]
    dlg.top.geometry("+10+10")
    pump(root, timeout=0.3)
    return dlg


def plain(srv: DevServer, name: str = "Home") -> Account:
    return Account(name, "127.0.0.1", "user", security=Security.NONE, port=srv.port,
                   allow_insecure=True)


def click(display: str, widget: tk.Misc) -> None:
    x, y = center(widget)
    xdotool(display, "mousemove", str(x), str(y), "click", "1")


def focus_window(display: str, dlg: SettingsDialog) -> None:
    dlg.top.focus_force()
    pump(dlg.top, timeout=0.2)


def answer_dialog(display: str, title: str, *keys: str) -> threading.Thread:
    """Answer a real Tk dialog (a nested event loop on the Tk thread) from
    the keyboard, as a user would, once a window with ``title`` shows."""
    def run() -> None:
        for _ in range(100):
            ids = xdotool(display, "search", "--onlyvisible", "--name", title).split()
            if ids:
                xdotool(display, "windowfocus", "--sync", ids[-1])
                xdotool(display, "key", "--delay", "60", *keys)
                return
            threading.Event().wait(0.1)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


# -- Test connection -------------------------------------------------------------------

@pytest.mark.posix_only("drives X input with xdotool")
def test_test_connection_says_what_to_choose(root: tk.Tk, make_devserver: MakeServer,
                                             certificate: object, x_display: str,
                                             tmp_path: Path) -> None:
    srv = make_devserver()
    tls = make_devserver(ssl_context=certificate.server_context())  # type: ignore[attr-defined]
    dlg = dialog(root, tmp_path, plain(srv))
    # SSL/TLS chosen, but the server speaks plain text on that port
    click(x_display, dlg.top.nametowidget(dlg.insecure_box.winfo_parent()).grid_slaves(
        row=0, column=0)[0])
    assert pump(root, lambda: dlg.security.get() == "ssl")
    dlg.vars["port"].set(str(srv.port))
    click(x_display, dlg.test_button)
    assert pump(root, lambda: dlg.test_result)
    result = dlg.test_result
    assert "does not speak TLS" in result and "STARTTLS on 110 or SSL/TLS on 995" in result
    assert "wrong version number" in result.lower() and "{" not in result  # the cause, kept
    assert "trying again" not in result
    assert dlg.test_label.cget("text") == result
    # the reverse: STARTTLS on a port that expects TLS from the start
    dlg.security.set("starttls")
    dlg.vars["port"].set(str(tls.port))
    dlg.vars["password"].set("pass")  # another port: another keyring entry
    dlg.tester.timeout = 2.0
    dlg.test_connection()
    assert pump(root, lambda: dlg.test_result, timeout=10)
    assert "no greeting" in dlg.test_result and "try SSL/TLS on 995" in dlg.test_result
    assert "trying again" not in dlg.test_result
    # a wrong password: no promise about later tries in a one-off test
    dlg.security.set("none")
    dlg.allow_insecure.set(True)
    dlg.vars["port"].set(str(srv.port))
    dlg.vars["password"].set("wrong")
    dlg.test_connection()
    assert pump(root, lambda: dlg.test_result)
    assert dlg.test_result.startswith("Failed: login to 127.0.0.1 failed")
    assert "will not try" not in dlg.test_result and "Check the user name" in dlg.test_result
    dlg.close()


@pytest.mark.posix_only("drives X input with xdotool")
def test_a_slow_test_can_be_cancelled(root: tk.Tk, make_devserver: MakeServer,
                                      x_display: str, tmp_path: Path) -> None:
    srv = make_devserver(faults=Faults(stall={"GREETING": 2.5}))
    dlg = dialog(root, tmp_path, plain(srv))
    click(x_display, dlg.test_button)
    assert pump(root, lambda: dlg.tester.running)
    assert dlg.test_button.cget("text") == "Cancel" and "Testing" in dlg.test_label.cget("text")
    click(x_display, dlg.test_button)
    assert pump(root, lambda: not dlg.tester.running)
    assert dlg.test_label.cget("text") == "Cancelled."
    assert dlg.test_button.cget("text") == "Test connection"
    pump(root, timeout=3.5)  # the server answers meanwhile: dropped, not shown
    assert dlg.test_label.cget("text") == "Cancelled."
    dlg.close()


@pytest.mark.posix_only("drives X input with xdotool")
def test_the_result_is_cleared_when_the_account_changes(
        root: tk.Tk, make_devserver: MakeServer, x_display: str, tmp_path: Path) -> None:
    srv = make_devserver()
    dlg = dialog(root, tmp_path, plain(srv, "One"), plain(srv, "Two"))
    dlg.test_connection()
    assert pump(root, lambda: dlg.test_result.startswith("OK"))
    bbox = dlg.listbox.bbox(1)
    xdotool(x_display, "mousemove", str(dlg.listbox.winfo_rootx() + bbox[0] + 10),
            str(dlg.listbox.winfo_rooty() + bbox[1] + bbox[3] // 2), "click", "1")
    assert pump(root, lambda: dlg.current == 1)
    assert dlg.test_result == "" and dlg.test_label.cget("text") == ""
    dlg.test_connection()
    assert pump(root, lambda: dlg.test_result.startswith("OK"))
    focus_window(x_display, dlg)  # an edit of the account's server also makes it stale
    dlg.entries["host"].focus_set()
    pump(root, timeout=0.2)
    xdotool(x_display, "key", "End")
    xdotool(x_display, "type", "1")
    assert pump(root, lambda: dlg.vars["host"].get().endswith("1"))
    assert dlg.test_result == "" and dlg.test_label.cget("text") == ""
    dlg.close()


# -- security and port ------------------------------------------------------------------

@pytest.mark.posix_only("drives X input with xdotool")
def test_plain_text_refusal_points_at_the_box_and_clears(root: tk.Tk, x_display: str,
                                                         tmp_path: Path) -> None:
    dlg = dialog(root, tmp_path)
    dlg.vars["host"].set("127.0.0.1")
    dlg.vars["username"].set("user")
    radios = dlg.top.nametowidget(dlg.insecure_box.winfo_parent())
    click(x_display, radios.grid_slaves(row=0, column=2)[0])  # None (plain text)
    assert pump(root, lambda: dlg.security.get() == "none")
    click(x_display, dlg.save_button)
    assert pump(root, lambda: "Tick" in dlg.errors["security"].cget("text"))
    text = dlg.errors["security"].cget("text")
    assert '"Yes, send my password unencrypted"' in text and "allow_insecure" not in text
    assert root.focus_get() == dlg.insecure_box
    click(x_display, dlg.insecure_box)
    assert pump(root, lambda: dlg.allow_insecure.get())
    assert "Tick" not in dlg.errors["security"].cget("text")
    assert "unencrypted" in dlg.errors["security"].cget("text")  # the warning stays
    dlg.close()


@pytest.mark.posix_only("drives X input with xdotool")
def test_the_port_follows_security_unless_really_typed(root: tk.Tk, x_display: str,
                                                        tmp_path: Path) -> None:
    dlg = dialog(root, tmp_path)
    radios = dlg.top.nametowidget(dlg.insecure_box.winfo_parent())
    focus_window(x_display, dlg)
    dlg.entries["port"].focus_set()
    pump(root, timeout=0.2)
    xdotool(x_display, "key", "--delay", "50", "Tab", "shift+Tab", "Tab", "shift+Tab",
            "Left", "Right")  # tabbing in and out, moving the cursor: not typing
    assert pump(root, lambda: root.focus_get() == dlg.entries["port"])
    click(x_display, radios.grid_slaves(row=0, column=1)[0])  # STARTTLS
    assert pump(root, lambda: dlg.vars["port"].get() == "110")
    click(x_display, dlg.entries["port"])
    xdotool(x_display, "key", "End", "BackSpace", "BackSpace", "BackSpace")
    xdotool(x_display, "type", "--delay", "20", "1110")
    assert pump(root, lambda: dlg.vars["port"].get() == "1110")
    click(x_display, radios.grid_slaves(row=0, column=0)[0])  # SSL/TLS: the typed port stays
    assert pump(root, lambda: dlg.security.get() == "ssl")
    assert dlg.vars["port"].get() == "1110"
    dlg.close()


# -- layout, Tab order, Escape -------------------------------------------------------------

@pytest.mark.posix_only("drives X input with xdotool")
def test_fixed_size_and_a_minimum_that_keeps_the_buttons(
        root: tk.Tk, make_devserver: MakeServer, x_display: str, tmp_path: Path) -> None:
    srv = make_devserver()
    dlg = dialog(root, tmp_path, plain(srv), password="wrong")
    size = (dlg.top.winfo_width(), dlg.top.winfo_height())

    def same() -> bool:
        pump(root, timeout=0.3)
        return (dlg.top.winfo_width(), dlg.top.winfo_height()) == size

    def inside(widget: tk.Misc) -> bool:
        return (widget.winfo_ismapped() and widget.winfo_width() >= widget.winfo_reqwidth()
                and widget.winfo_rootx() + widget.winfo_width()
                <= dlg.top.winfo_rootx() + dlg.top.winfo_width()
                and widget.winfo_rooty() + widget.winfo_height()
                <= dlg.top.winfo_rooty() + dlg.top.winfo_height())

    radios = dlg.top.nametowidget(dlg.insecure_box.winfo_parent())
    click(x_display, radios.grid_slaves(row=0, column=0)[0])
    assert same()
    click(x_display, radios.grid_slaves(row=0, column=2)[0])
    assert same()
    dlg.vars["check_interval_minutes"].set("0")
    click(x_display, dlg.save_button)
    assert pump(root, lambda: dlg.errors["check_interval_minutes"].error)
    assert same()
    dlg.vars["check_interval_minutes"].set("5")
    click(x_display, dlg.test_button)
    assert pump(root, lambda: dlg.test_result.startswith("Failed"))
    assert same()
    dlg.add_account()
    assert same()
    for button in (dlg.save_button, dlg.cancel_button, dlg.test_button):
        assert inside(button), button
    dlg.top.geometry("300x200")  # as small as a user can drag it
    pump(root, timeout=0.5)
    assert dlg.top.winfo_width() > 300 and dlg.top.winfo_height() > 200
    assert inside(dlg.save_button) and inside(dlg.cancel_button)
    dlg.close()


@pytest.mark.posix_only("drives X input with xdotool")
def test_save_comes_before_cancel_in_tab_order(root: tk.Tk, x_display: str,
                                               tmp_path: Path) -> None:
    dlg = dialog(root, tmp_path)
    focus_window(x_display, dlg)
    last = [w for w in dlg.bottom.winfo_children() if w.winfo_class() == "TCheckbutton"][-1]
    last.focus_set()
    pump(root, timeout=0.2)
    xdotool(x_display, "key", "Tab")
    assert pump(root, lambda: root.focus_get() == dlg.save_button)
    xdotool(x_display, "key", "Tab")
    assert pump(root, lambda: root.focus_get() == dlg.cancel_button)
    dlg.close()


@pytest.mark.posix_only("drives X input with xdotool")
def test_escape_asks_before_discarding_edits(root: tk.Tk, make_devserver: MakeServer,
                                             x_display: str, tmp_path: Path) -> None:
    srv = make_devserver()
    dlg = dialog(root, tmp_path / "a", plain(srv))
    focus_window(x_display, dlg)
    dlg.entries["host"].focus_set()
    pump(root, timeout=0.2)
    assert not dlg.dirty, "nothing edited yet"
    xdotool(x_display, "key", "Escape")  # nothing edited: closes at once
    assert pump(root, lambda: not dlg.alive)

    dlg = dialog(root, tmp_path / "b", plain(srv))
    focus_window(x_display, dlg)
    dlg.entries["name"].focus_set()
    pump(root, timeout=0.2)
    xdotool(x_display, "key", "End")
    xdotool(x_display, "type", "--delay", "20", " box")
    assert pump(root, lambda: dlg.vars["name"].get() == "Home box")
    answer_dialog(x_display, "Discard changes", "Return")  # the default: No
    xdotool(x_display, "key", "Escape")
    pump(root, timeout=2.0)
    assert dlg.alive and dlg.vars["name"].get() == "Home box"
    focus_window(x_display, dlg)
    answer_dialog(x_display, "Discard changes", "alt+y")  # Yes: discard
    xdotool(x_display, "key", "Escape")
    assert pump(root, lambda: not dlg.alive)
    assert not (tmp_path / "b" / "settings.json").exists()


# -- hints, folders, notes --------------------------------------------------------------

@pytest.mark.posix_only("drives X input with xdotool")
def test_keyring_hint_and_the_default_download_folder(
        root: tk.Tk, make_devserver: MakeServer, x_display: str, tmp_path: Path) -> None:
    srv = make_devserver()
    dlg = dialog(root, tmp_path, plain(srv))
    hint = dlg.errors["password"]
    assert pump(root, lambda: hint.cget("text") == settings_hints.SAVED)
    default = dlg.accounts.paths.download_dir / "Home"
    assert dlg.errors["download_dir"].cget("text") == f"Empty: {default}"
    focus_window(x_display, dlg)
    dlg.entries["password"].focus_set()
    pump(root, timeout=0.2)
    xdotool(x_display, "type", "new")
    assert pump(root, lambda: hint.cget("text") == settings_hints.TYPED)
    dlg.add_account()
    assert pump(root, lambda: hint.cget("text") == settings_hints.NEW)
    assert dlg.errors["download_dir"].cget("text").endswith("Account 2")
    # Browse starts in the default folder (the nearest one that exists)
    default.mkdir(parents=True)
    dlg.select(0)
    answer_dialog(x_display, "Download folder", "Return")
    click(x_display, [w for w in dlg.form.grid_slaves(column=2)
                      if w.winfo_class() == "TButton"][0])
    assert pump(root, lambda: dlg.vars["download_dir"].get(), timeout=10)
    assert Path(dlg.vars["download_dir"].get()) == default
    dlg.close()


def test_saving_keeps_the_users_notes(root: tk.Tk, make_devserver: MakeServer,
                                      tmp_path: Path) -> None:
    srv = make_devserver()
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.json").write_text(json.dumps({
        "_comment": "my notes: work mail first", "schema_version": 1,
        "accounts": [{"_comment": "the old box", "name": "Home", "host": "127.0.0.1",
                      "username": "user", "port": srv.port, "security": "none",
                      "allow_insecure": True, "_since": 2019}]}))
    acc = Accounts(resolve_paths(home=home), passwords=MemoryStore())
    dlg = SettingsDialog(root, TkBridge(root), acc)
    dlg.vars["check_interval_minutes"].set("10")
    assert dlg.save()
    assert pump(root, lambda: not dlg.alive)
    data = json.loads((home / "settings.json").read_text())
    assert data["_comment"] == "my notes: work mail first"
    assert data["accounts"][0]["_comment"] == "the old box"
    assert data["accounts"][0]["_since"] == 2019
    assert data["accounts"][0]["check_interval_minutes"] == 10
