"""Issue 13: the mailbox window and the tray stay in sync, the tooltip
names every failing account and is cut between words, a hover shows it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from traymail.app import cut_words
from traymail.devserver import DevServer, MemoryMailbox
from traymail.samples import sample_message, sample_messages
from traymail.session import AccountState, MailboxError
from traymail.settings import Account, Security, Settings

from .desktop import xdotool
from .test_app import app_pump, make_app

MakeServer = Callable[..., DevServer]


def test_window_and_badge_in_sync(x_display: str, make_devserver: MakeServer,
                                  tmp_path: Path) -> None:
    box = MemoryMailbox(sample_messages(3))
    srv = make_devserver(box)
    app = make_app(tmp_path / "home", srv, use_tray=False, use_notifier=False,
                   single_instance=False)
    app.start()
    try:
        assert app_pump(app, lambda: "Home" in app.results, 15)
        assert "— 3 new" in app.icon_and_title()[1]
        win = app.show_mailbox()
        win.top.geometry("+10+10")
        assert app_pump(app, lambda: not win.busy and win.tree.get_children(), 10)
        # a download in the window: the badge follows at once, no poll needed
        win.tree.selection_set(win.tree.get_children()[0])
        win.download_selected()
        assert app_pump(app, lambda: "— 2 new" in app.icon_and_title()[1], 10)
        # new mail, F5 (a real key press) in the window: the badge follows
        box.add(sample_message(30))
        win.top.focus_force()
        win.tree.focus_set()
        app_pump(app, lambda: False, 0.3)
        xdotool(x_display, "key", "F5")
        assert app_pump(app, lambda: len(win.tree.get_children()) == 4, 10)
        assert app_pump(app, lambda: "— 3 new" in app.icon_and_title()[1], 5)
        # "Mark all as seen" from the tray: the window's bold rows go at once
        app.mark_all_seen()
        assert "— 0 new" in app.icon_and_title()[1]
        assert not any("new" in win.tree.item(i, "tags") for i in win.tree.get_children())
        assert win.top.title() == "traymail — Home: 0 new"
        # a new account saved in Settings appears in the window
        extra = Account("Work", "127.0.0.1", "user", security=Security.NONE, port=srv.port,
                        allow_insecure=True)
        app.accounts.apply(Settings((*app.accounts.settings.accounts, extra)))
        app._settings_saved()
        assert list(win.account_box.cget("values")) == ["Home", "Work"]
        # every failing account named in the tooltip, cut between words
        app.errors = {"Home": MailboxError("login to 127.0.0.1 failed: bad password",
                                           AccountState.AUTH_FAILED),
                      "Work": MailboxError("no route", AccountState.ERROR)}
        title = app.icon_and_title()[1]
        assert "failing: Home, Work" in title and len(title) <= 127
    finally:
        app.quit()
        app.shutdown()


def test_tooltip_cut_between_words() -> None:
    text = "traymail — 3 new (12.0 KB), checked 09:00, Home: " + "averyverylongword " * 10
    cut = cut_words(text, 127)
    assert len(cut) <= 127 and cut.endswith("…")
    assert text.startswith(cut[:-1]) and text[len(cut) - 1] == " "  # ends on a word
    assert cut_words("short", 127) == "short"
