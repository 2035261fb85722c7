"""The protocol log window (issue 13): buttons never clipped, connection
failures written there, Ctrl+F with the old search selected, Save… starting
in Documents. Real Tk on Xvfb, xdotool, real Tk file dialog."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from pathlib import Path

import pytest

from traymail.accounts import Accounts
from traymail.devserver import DevServer
from traymail.passwords import MemoryStore
from traymail.settings import Account, Security, Settings, resolve_paths
from traymail.ui.log_window import LogWindow
from traymail.ui.worker import TkBridge

from .desktop import xdotool
from .test_ui_settings import answer_dialog, click
from .uitools import pump

MakeServer = Callable[..., DevServer]
def accounts_for(home: Path, port: int) -> Accounts:
    account = Account("Home", "127.0.0.1", "user", security=Security.NONE, port=port,
                      allow_insecure=True)
    store = MemoryStore()
    store.set(account, "pass")
    return Accounts(resolve_paths(home=home), Settings((account,)), passwords=store)


def whole(log: LogWindow, button: tk.Misc) -> bool:
    """Mapped, its label not squeezed, inside the window."""
    return (button.winfo_ismapped() and button.winfo_width() >= button.winfo_reqwidth()
            and button.winfo_rootx() + button.winfo_width()
            <= log.top.winfo_rootx() + log.top.winfo_width())


def test_buttons_stay_whole_at_any_size(root: tk.Tk, make_devserver: MakeServer,
                                        tmp_path: Path) -> None:
    log = LogWindow(root, TkBridge(root), accounts_for(tmp_path, make_devserver().port))
    log.top.geometry("+10+10")
    pump(root, timeout=0.5)
    assert all(whole(log, b) for b in log.buttons.values())
    assert log.buttons["Clear"].winfo_width() >= log.buttons["Clear"].winfo_reqwidth()
    log.top.geometry("200x100")  # smaller than anyone should: the minimum holds
    pump(root, timeout=0.5)
    assert all(whole(log, b) for b in log.buttons.values()), \
        [(b.winfo_width(), b.winfo_reqwidth()) for b in log.buttons.values()]
    assert log.top.winfo_height() >= 200
    log.close()


@pytest.mark.posix_only("drives X input with xdotool")
def test_ctrl_f_selects_the_old_search(root: tk.Tk, make_devserver: MakeServer,
                                       x_display: str, tmp_path: Path) -> None:
    accounts = accounts_for(tmp_path, make_devserver().port)
    bridge = TkBridge(root)
    log = LogWindow(root, bridge, accounts)
    bridge.submit(accounts.mailbox().check)
    assert pump(root, lambda: "C: QUIT" in log.contents())
    log.top.focus_force()
    log.text.focus_set()
    pump(root, timeout=0.2)
    xdotool(x_display, "key", "ctrl+f")
    assert pump(root, lambda: root.focus_get() == log.search_entry)
    xdotool(x_display, "type", "--delay", "20", "UIDL")
    xdotool(x_display, "key", "Return")
    assert pump(root, lambda: log.text.tag_ranges("match"))
    log.text.focus_set()
    pump(root, timeout=0.2)
    xdotool(x_display, "key", "ctrl+f")
    assert pump(root, lambda: root.focus_get() == log.search_entry)
    assert log.search_entry.selection_present()
    assert log.search_entry.selection_get() == "UIDL"
    xdotool(x_display, "type", "--delay", "20", "STAT")  # typing replaces the old text
    assert pump(root, lambda: log.query.get() == "STAT")
    log.close()


def test_connection_failures_are_in_the_protocol_log(root: tk.Tk, make_devserver: MakeServer,
                                                     tmp_path: Path) -> None:
    srv = make_devserver()
    port = srv.port
    srv.stop()  # nothing listens there now: connection refused
    accounts = accounts_for(tmp_path / "home", port)
    bridge = TkBridge(root)
    log = LogWindow(root, bridge, accounts)
    errors: list[BaseException] = []
    bridge.submit(accounts.mailbox().check, on_error=errors.append)
    assert pump(root, lambda: errors)
    assert pump(root, lambda: "*: failed: 127.0.0.1:" in log.contents())
    line = next(x for x in log.contents().splitlines() if "*: failed:" in x)
    assert str(errors[0]) in line  # the status line's text, in the log
    assert "note" in log.text.tag_names(log.text.search("failed:", "1.0"))
    on_disk = "".join(p.read_text() for p in (tmp_path / "home" / "logs").glob("*.log"))
    assert "*: failed: 127.0.0.1:" in on_disk
    log.close()


@pytest.mark.posix_only("drives X input with xdotool")
def test_save_starts_in_documents(root: tk.Tk, make_devserver: MakeServer, x_display: str,
                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "Documents"
    docs.mkdir()
    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(docs))
    monkeypatch.setattr(LogWindow, "last_folder", None)
    accounts = accounts_for(tmp_path / "home", make_devserver().port)
    bridge = TkBridge(root)
    log = LogWindow(root, bridge, accounts)
    bridge.submit(accounts.mailbox().check)
    assert pump(root, lambda: "C: QUIT" in log.contents())
    log.top.geometry("+10+10")
    pump(root, timeout=0.3)
    answer_dialog(x_display, "Save the protocol log", "Return")
    click(x_display, log.buttons["Save…"])
    saved = docs / "traymail-protocol.log"
    assert pump(root, saved.exists, timeout=10)
    assert "C: QUIT" in saved.read_text()
    assert LogWindow.last_folder == docs
    log.close()
