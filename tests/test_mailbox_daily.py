"""Issue 13, the mailbox window in daily use: keyboard triage with real key
presses, the sender's address, the preview's header block, the list's
polish (dates, sort, attachment mark, title), Escape, "not signed in", the
delete confirmation. Real Tk on Xvfb, xdotool for input, a devserver."""

from __future__ import annotations

import sys
import threading
import time
import tkinter as tk
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from traymail.devserver import DevServer, MemoryMailbox
from traymail.mimeinfo import preview_details
from traymail.samples import sample_message, sample_messages
from traymail.ui.mailbox_window import MailboxWindow
from traymail.ui.message_list import relative_date, sender_text

from .desktop import xdotool
from .test_ui import Env, make_accounts
from .uitools import pump

MakeServer = Callable[..., DevServer]


def small_attachment() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Paypal Support <security@paypa1-login.example>"
    msg["To"] = "Demo User <demo@traymail.invalid>"
    msg["Subject"] = "Your account"
    msg["Date"] = "Mon, 30 Nov 2026 09:00:00 +0000"
    msg.set_content("Please see the file.\n")
    msg.add_attachment(b"x" * 1200, maintype="application", subtype="octet-stream",
                       filename="notes.bin")
    return msg.as_bytes().replace(b"\n", b"\r\n")


def opened(root: tk.Tk, srv: DevServer, tmp_path: Path,
           **kw: object) -> tuple[Env, MailboxWindow]:
    e = Env(root, make_accounts(tmp_path / "home", srv))
    e.server = srv  # type: ignore[attr-defined]
    win = e.window() if not kw else MailboxWindow(root, e.bridge, e.accounts,
                                                  on_notice=e.notices.append,
                                                  opener=e.opened.append, **kw)  # type: ignore[arg-type]
    win.top.geometry("+10+10")
    win.show()
    assert pump(root, lambda: not win.busy and win.tree.get_children(), 10)
    return e, win


def keys(display: str, root: tk.Tk, *names: str) -> None:
    for name in names:
        xdotool(display, "key", name)
        pump(root, timeout=0.15)


@pytest.mark.posix_only("drives X input with xdotool")
def test_keyboard_triage_with_real_keys(root: tk.Tk, x_display: str,
                                        make_devserver: MakeServer, tmp_path: Path) -> None:
    srv = make_devserver(MemoryMailbox(sample_messages(6)))
    e, win = opened(root, srv, tmp_path)
    win.top.focus_force()
    win.tree.focus_set()
    pump(root, timeout=0.3)
    order = list(win.tree.get_children())
    # the window opens with the keyboard on the first row: Down selects the second
    keys(x_display, root, "Down")
    assert win.tree.selection() == (order[1],)
    # Del, Down, Del: two different messages marked (it unmarked the same one)
    keys(x_display, root, "Delete", "Down", "Delete")
    assert [u for u in order if win.headers[u].marked] == [order[1], order[2]]
    assert win.tree.selection() == (order[2],) and win.tree.focus() == order[2]
    # Space toggles too; Up moves back
    keys(x_display, root, "Down", "space")
    assert win.headers[order[3]].marked
    keys(x_display, root, "space")
    assert not win.headers[order[3]].marked
    keys(x_display, root, "Up", "Up", "space")
    assert not win.headers[order[1]].marked  # unmarked again, by keyboard
    assert "1 marked for deletion" in win.summary.cget("text")
    # marked rows are struck through (and red); unmarked ones are not
    subject = win.tree.item(order[2], "values")[3]
    assert subject == "".join(c + "\u0336" for c in win.headers[order[2]].subject)
    assert "\u0336" not in win.tree.item(order[1], "values")[3]
    assert "marked" in win.tree.item(order[2], "tags")
    # Ctrl+A selects every message; Enter opens the focused selection
    keys(x_display, root, "ctrl+a")
    assert set(win.tree.selection()) == set(order)
    keys(x_display, root, "Down", "Return")
    assert pump(root, lambda: e.opened, 10)
    assert e.opened[0].suffix == ".eml"
    # Escape closes the window
    win.top.focus_force()
    pump(root, timeout=0.2)
    keys(x_display, root, "Escape")
    assert pump(root, lambda: not win.alive, 3)


@pytest.mark.posix_only("drives X input with xdotool")
def test_sender_address_and_preview_header_block(root: tk.Tk, x_display: str,
                                                 make_devserver: MakeServer,
                                                 tmp_path: Path) -> None:
    box = MemoryMailbox([sample_message(3), small_attachment(), sample_message(2)])
    srv = make_devserver(box)
    e, win = opened(root, srv, tmp_path)
    by_subject = {h.subject: h.uid for h in win.headers.values()}
    spoof = by_subject["Your account"]
    row = win.tree.item(spoof, "values")
    assert row[2] == "Paypal Support <security@paypa1-login.example>"  # the address shows
    assert row[1] == "⊕"  # attachment mark, from the Content-Type
    assert win.tree.item(by_subject[win.headers[[u for u in win.headers if u != spoof][0]]
                                     .subject], "values")
    plain = [u for u, h in win.headers.items() if not h.attachments]
    assert plain and win.tree.item(plain[0], "values")[1] == ""
    # a real click on the row: the preview gets its header block
    win.tree.see(spoof)
    pump(root, timeout=0.2)
    x, y, w, h = win.tree.bbox(spoof, "subject")
    xdotool(x_display, "mousemove", str(win.tree.winfo_rootx() + x + 10),
            str(win.tree.winfo_rooty() + y + h // 2), "click", "1")
    assert pump(root, lambda: "Please see the file" in win.preview.get("1.0", "end"), 10)
    text = win.preview.get("1.0", "end")
    assert "From: Paypal Support <security@paypa1-login.example>" in text
    assert "To: Demo User <demo@traymail.invalid>" in text
    assert "Subject: Your account" in text and "Date: Mon 30 Nov 2026" in text
    assert "Attachment: notes.bin (1.2 KB)" in text  # complete within the TOP lines
    # a big attachment: named, its size beyond the lines fetched
    big = by_subject[[s for s in by_subject if by_subject[s] not in (spoof, *plain)][0]]
    win.tree.selection_set(big)
    assert pump(root, lambda: "report-3.pdf" in win.preview.get("1.0", "end"), 10)
    assert "Attachment: report-3.pdf\n" in win.preview.get("1.0", "end")


def test_attachments_from_top_lines() -> None:
    data = sample_message(3)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = body.split(b"\r\n")
    few = preview_details(head + b"\r\n\r\n" + b"\r\n".join(lines[:5]))
    assert few.attachments == () and few.has_attachments  # from Content-Type only
    some = preview_details(head + b"\r\n\r\n" + b"\r\n".join(lines[:40]))
    assert [(a.name, a.size) for a in some.attachments] == [("report-3.pdf", None)]
    full = preview_details(data)
    assert full.attachments[0].size is not None and full.attachments[0].size > 20_000
    hostile = small_attachment().replace(b'filename="notes.bin"',
                                         b'filename="a\x1b[31mb\xe2\x80\xaec.bin"')
    name = preview_details(hostile).attachments[0].name
    assert "\x1b" not in name and "\u202e" not in name
    assert not preview_details(sample_message(2)).has_attachments


def test_list_polish_dates_sort_title(root: tk.Tk, make_devserver: MakeServer,
                                      tmp_path: Path) -> None:
    now = time.mktime((2026, 12, 2, 12, 0, 0, 0, 0, -1))  # a Wednesday
    assert relative_date(now - 3 * 3600, now=now) == "Today 09:00"
    assert relative_date(now - 86400 - 3600, now=now) == "Yesterday 11:00"
    assert relative_date(now - 2 * 86400 + 2 * 3600 + 300, now=now) == "Mon 14:05"
    assert relative_date(time.mktime((2026, 11, 3, 8, 0, 0, 0, 0, -1)), now=now) == "3 Nov"
    assert relative_date(time.mktime((2024, 11, 3, 8, 0, 0, 0, 0, -1)), now=now) == "3 Nov 2024"
    assert sender_text('"Ann" <ann@example.org>') == "Ann <ann@example.org>"
    assert sender_text("bob@example.org") == "bob@example.org"
    srv = make_devserver(MemoryMailbox(sample_messages(6)))
    e, win = opened(root, srv, tmp_path)
    # the title counts the unread; the date column fits a bold date
    assert win.top.title() == "traymail — acct0: 6 new"
    dates = [win.tree.item(i, "values")[4] for i in win.tree.get_children()]
    assert all(d and not d[0].isdigit() or " " in d for d in dates)
    width = int(win.tree.column("date", "width"))
    assert all(win.list.bold.measure(d) + 8 <= width for d in dates)
    sizes = [win.tree.item(i, "values")[5] for i in win.tree.get_children()]
    assert all(win.list.bold.measure(s) + 8 <= int(win.tree.column("size", "width"))
               for s in sizes)
    # the sort arrow follows the sorted column; the choice survives a reopen
    assert win.tree.heading("date", "text") == "Date ▼"
    win.tree.heading("size", "command")  # the heading is clickable
    win.sort_by("size")
    assert win.tree.heading("size", "text") == "Size ▲"
    assert win.tree.heading("date", "text") == "Date"
    win.close()
    again = e.window()
    assert pump(root, lambda: not again.busy, 10)
    assert again.tree.heading("size", "text") == "Size ▲"
    sizes = [again.headers[i].size or 0 for i in again.tree.get_children()]
    assert sizes == sorted(sizes)
    again.close()


def test_not_signed_in_and_wording(root: tk.Tk, make_devserver: MakeServer,
                                   tmp_path: Path) -> None:
    srv = make_devserver(MemoryMailbox(sample_messages(2)))
    e = Env(root, make_accounts(tmp_path / "home", srv))
    e.accounts.passwords.delete(e.accounts.mailbox().account)  # type: ignore[attr-defined]
    win = e.window()
    assert pump(root, lambda: not win.busy, 10)
    assert win.summary.cget("text") == "Not signed in"
    assert "0 messages" not in win.summary.cget("text")
    assert "no password is stored" in win.status.cget("text")
    # the status line wraps in full above the buttons, never behind them
    win.top.geometry("700x480")
    pump(root, timeout=0.3)
    assert win.status.winfo_ismapped()
    assert win.status.winfo_rooty() + win.status.winfo_height() <= \
        win.log_link.winfo_rooty() + 1
    # quitting with nothing marked says nothing
    win.quit_without_deleting()
    assert e.notices == []


def test_min_size_keeps_buttons(root: tk.Tk, make_devserver: MakeServer,
                                tmp_path: Path) -> None:
    srv = make_devserver(MemoryMailbox(sample_messages(2)))
    e, win = opened(root, srv, tmp_path)
    win.top.geometry("300x200")
    pump(root, timeout=0.5)
    right = win.top.winfo_rootx() + win.top.winfo_width()
    for b in win.buttons.values():
        assert b.winfo_ismapped() and b.winfo_rootx() + b.winfo_width() <= right
    win.close()


def test_delete_confirmation_lists_messages_cancel_default(
        root: tk.Tk, x_display: str, make_devserver: MakeServer,
        tmp_path: Path) -> None:
    srv = make_devserver(MemoryMailbox(sample_messages(4)))
    texts: list[tuple[str, str]] = []
    e, win = opened(root, srv, tmp_path,
                    confirm=lambda t, m: texts.append((t, m)) is not None)
    uids = list(win.tree.get_children())[:2]
    win.tree.selection_set(uids)
    win.toggle_mark()
    win.delete_marked()
    title, text = texts[0]
    assert title == "Delete from acct0"
    assert "Delete 2 messages" in text and "acct0 (user at 127.0.0.1)" in text
    for u in uids:
        h = win.headers[u]
        assert f"• {sender_text(h.sender)}: {h.subject}" in text
    assert "(s)" not in text and "octets" not in text
    win.close()
    # the real dialog: Enter (its default button) cancels; nothing is deleted
    e2, real = opened(root, srv, tmp_path / "2", on_show_log=lambda: None)  # real dialog
    real.tree.selection_set(list(real.tree.get_children())[:1])
    real.toggle_mark()

    def press_enter() -> None:
        time.sleep(1.5)
        if sys.platform != "win32":
            xdotool(x_display, "key", "Return")
            return
        # Windows: Tk's message box is the native MessageBox (not a Tk window):
        # find it by its title and press Enter in it (IsDialogMessage -> default button)
        import ctypes

        user32 = ctypes.windll.user32  # type: ignore[attr-defined,unused-ignore]
        for _ in range(100):
            hwnd = user32.FindWindowW(None, "Delete from acct0")
            if hwnd:
                user32.PostMessageW(hwnd, 0x0100, 0x0D, 0)  # WM_KEYDOWN, VK_RETURN
                user32.PostMessageW(hwnd, 0x0101, 0x0D, 0)  # WM_KEYUP
                return
            time.sleep(0.2)

    threading.Thread(target=press_enter, daemon=True).start()
    real.delete_marked()  # modal: returns when the dialog closes
    pump(root, timeout=0.5)
    assert len(srv.mailbox.uids()) == 4 and not real.busy
    real.close()


def test_oauth2_without_sign_in_says_not_signed_in(root: tk.Tk, tmp_path: Path) -> None:
    from traymail.accounts import Accounts
    from traymail.oauth import TokenManager
    from traymail.passwords import MemoryStore
    from traymail.settings import (
        Account,
        AuthMethod,
        OAuth2Settings,
        Security,
        Settings,
        resolve_paths,
    )

    account = Account("Mail", "127.0.0.1", "user@example.com", security=Security.NONE,
                      port=1, allow_insecure=True, auth=AuthMethod.OAUTH2,
                      oauth2=OAuth2Settings(provider="google", client_id="x"))
    e = Env(root, Accounts(resolve_paths(home=tmp_path / "h"), Settings((account,)),
                           passwords=MemoryStore(), tokens=TokenManager(MemoryStore())))
    win = e.window()
    assert pump(root, lambda: not win.busy, 10)
    assert win.summary.cget("text") == "Not signed in"
    assert "Sign in to Mail" in win.status.cget("text")
    win.close()


def test_a_state_database_from_before_the_attachment_mark_opens(tmp_path: Path) -> None:
    """The headers table gained a column: an older database is extended in
    place (its cached rows read as "no attachments") and keeps working."""
    import sqlite3

    from traymail.store import Store, StoredHeader

    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
        CREATE TABLE headers (
            account TEXT NOT NULL, uid TEXT NOT NULL, size INTEGER,
            sender TEXT, recipients TEXT, subject TEXT, date TEXT, timestamp REAL,
            message_id TEXT, fetched REAL NOT NULL, PRIMARY KEY (account, uid));
        INSERT INTO headers VALUES ('A', 'u1', 10, 'a@b', 'c@d', 'old', '', NULL, '', 0);
    """)
    db.commit()
    db.close()
    store = Store(path)
    try:
        assert store.headers("A")["u1"].subject == "old"
        assert store.headers("A")["u1"].attachments is False
        store.put_headers("A", [StoredHeader("u2", 5, "x@y", "", "new", "", None, "",
                                             attachments=True)])
        assert store.headers("A")["u2"].attachments is True
    finally:
        store.close()
