"""Real Tk windows on Xvfb, driven through widget events and xdotool."""

from __future__ import annotations

import os
import time
import tkinter as tk
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from traymail.accounts import Accounts
from traymail.devserver import DevServer, Faults, MemoryMailbox
from traymail.passwords import MemoryStore
from traymail.samples import sample_messages
from traymail.settings import Account, Security, Settings, load_settings, resolve_paths
from traymail.ui.log_window import LogWindow
from traymail.ui.mailbox_window import MailboxWindow
from traymail.ui.settings_dialog import SettingsDialog
from traymail.ui.worker import TkBridge

from .desktop import xdotool
from .uitools import center, pump, screenshot

MakeServer = Callable[..., DevServer]


def make_accounts(home: Path, *servers: DevServer, password: str = "pass") -> Accounts:
    accounts = tuple(
        Account(name=f"acct{i}", host="127.0.0.1", username="user", port=srv.port,
                security=Security.NONE, allow_insecure=True)
        for i, srv in enumerate(servers))
    store = MemoryStore()
    for a in accounts:
        store.set(a, password)
    return Accounts(resolve_paths(home=home), Settings(accounts), passwords=store)


class Env:
    def __init__(self, root: tk.Tk, accounts: Accounts) -> None:
        self.root = root
        self.bridge = TkBridge(root)
        self.accounts = accounts
        self.opened: list[Path] = []
        self.notices: list[str] = []
        self.answer = True
        self.logs = 0

    def window(self) -> MailboxWindow:
        def show_log() -> None:
            self.logs += 1

        return MailboxWindow(self.root, self.bridge, self.accounts,
                             on_show_log=show_log, on_notice=self.notices.append,
                             opener=self.opened.append,
                             confirm=lambda title, text: self.answer)


@pytest.fixture
def env(root: tk.Tk, make_devserver: MakeServer, tmp_path: Path) -> Iterator[Env]:
    srv = make_devserver(MemoryMailbox(sample_messages(8)))
    e = Env(root, make_accounts(tmp_path / "home", srv))
    e.server = srv  # type: ignore[attr-defined]
    yield e


def rows(win: MailboxWindow) -> list[tuple[str, ...]]:
    return [tuple(win.tree.item(i, "values")) for i in win.tree.get_children()]


def test_window_lists_decoded_headers_then_refreshes(env: Env) -> None:
    box = env.accounts.mailbox()
    box.headers()  # warm the cache: the window must show these at once
    t0 = time.monotonic()
    win = env.window()
    env.root.update()
    assert len(win.tree.get_children()) == 8  # from the cache, before any network
    assert time.monotonic() - t0 < 1.0
    assert pump(env.root, lambda: not win.busy)
    subjects = {r[3] for r in rows(win)}
    assert {"Grüße aus München – Fotos", "Отчёт за ноябрь", "会议纪要"} <= subjects
    assert "8 messages, 8 new" in win.summary.cget("text")
    assert all("new" in win.tree.item(i, "tags") for i in win.tree.get_children())
    win.sort_by("size")
    sizes = [win.headers[i].size or 0 for i in win.tree.get_children()]
    assert sizes == sorted(sizes)
    win.sort_by("size")
    assert [win.headers[i].size for i in win.tree.get_children()] == sorted(sizes, reverse=True)


def test_preview_download_open(env: Env) -> None:
    win = env.window()
    assert pump(env.root, lambda: not win.busy and win.tree.get_children())
    first = [i for i in win.tree.get_children() if "Lunch" in win.headers[i].subject][0]
    win.tree.selection_set(first)
    assert pump(env.root, lambda: "Line 1 of sample message" in win.preview.get("1.0", "end"))
    win.open_selected()  # not downloaded yet: downloads, then opens
    assert pump(env.root, lambda: env.opened)
    assert env.opened[0].suffix == ".eml" and env.opened[0].exists()
    assert "↓" in win.tree.item(first, "values")[0]
    chosen = win.tree.get_children()[:3]
    win.tree.selection_set(chosen)
    win.download_selected()
    assert win.progress_row.winfo_manager() == "pack"  # the progress row is shown
    assert pump(env.root, lambda: not win.busy)
    assert "Downloaded 3 messages" in win.status.cget("text")
    assert float(win.progress["value"]) == float(win.progress["maximum"]) > 1  # 100 %
    assert " of " in win.progress_label.cget("text")
    target = env.accounts.paths.download_dir_for(env.accounts.mailbox().account)
    assert len(list(target.glob("*.eml"))) == len({first, *chosen})
    win.download_new()
    assert pump(env.root, lambda: not win.busy)
    assert win.summary.cget("text").startswith("8 messages, 0 new")


def test_closing_with_a_preview_pending_leaves_no_timer_behind(env: Env) -> None:
    """Selecting a message schedules its preview (350 ms); closing the window
    before then must cancel it: the timer would fire into a Tcl command that
    died with the window (a background error)."""
    def pending() -> tuple[str, ...]:
        return tuple(env.root.tk.splitlist(env.root.tk.call("after", "info")))

    win = env.window()
    assert pump(env.root, lambda: not win.busy and win.tree.get_children())
    win.tree.selection_set(win.tree.get_children()[0])
    env.root.update()
    job = win._preview_job
    assert job is not None and job in pending()  # scheduled, not yet run
    win.close()
    assert job not in pending()


def test_mark_delete_and_confirmation(env: Env) -> None:
    srv: DevServer = env.server  # type: ignore[attr-defined]
    win = env.window()
    assert pump(env.root, lambda: not win.busy and win.tree.get_children())
    victims = list(win.tree.get_children()[:2])
    win.tree.selection_set(victims)
    win.tree.focus_force()  # key events go to the X input focus (no WM on Xvfb)
    env.root.update()
    win.tree.event_generate("<Delete>")  # Del toggles the mark
    env.root.update()
    assert all("marked" in win.tree.item(v, "tags") for v in victims)
    assert "2 marked for deletion" in win.summary.cget("text")
    env.answer = False
    win.delete_marked()
    env.root.update()
    assert len(srv.mailbox.uids()) == 8 and not win.busy
    env.answer = True
    win.delete_marked()
    assert pump(env.root, lambda: "Deleted 2 messages" in win.status.cget("text"))
    assert pump(env.root, lambda: not win.busy)
    assert set(srv.mailbox.uids()).isdisjoint(victims) and len(srv.mailbox.uids()) == 6
    assert len(win.tree.get_children()) == 6


def test_quit_without_deleting(env: Env) -> None:
    srv: DevServer = env.server  # type: ignore[attr-defined]
    win = env.window()
    assert pump(env.root, lambda: not win.busy and win.tree.get_children())
    win.tree.selection_set(win.tree.get_children())
    win.toggle_mark()
    win.quit_without_deleting()
    assert not win.alive
    assert env.accounts.mailbox().marked() == []
    assert "the server keeps every message" in env.notices[0]
    assert len(srv.mailbox.uids()) == 8


def test_errors_show_in_the_status_line(root: tk.Tk, make_devserver: MakeServer,
                                        tmp_path: Path) -> None:
    srv = make_devserver(faults=Faults(errors={"PASS": "-ERR [SYS/TEMP] maintenance"}))
    e = Env(root, make_accounts(tmp_path / "h", srv))
    win = e.window()
    assert pump(root, lambda: not win.busy)
    assert "maintenance" in win.status.cget("text")
    assert win.log_link.winfo_ismapped()
    win.log_link.event_generate("<Button-1>")
    assert e.logs == 1


def test_network_never_blocks_the_tk_thread(root: tk.Tk, make_devserver: MakeServer,
                                            tmp_path: Path) -> None:
    srv = make_devserver(faults=Faults(stall={"UIDL": 4.0}))
    e = Env(root, make_accounts(tmp_path / "h", srv))
    ticks: list[float] = []

    def tick() -> None:  # an after() tick: fires only while the Tk thread is free
        ticks.append(time.monotonic())
        root.after(50, tick)

    root.after(50, tick)
    win = e.window()
    pump(root, timeout=3.0)  # the server stalls the session for 4 s
    assert win.busy and len(ticks) >= 40
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert max(gaps) < 0.3
    assert pump(root, lambda: not win.busy, timeout=10)


def test_log_window_live_masked_filtered(env: Env, tmp_path: Path) -> None:
    log = LogWindow(env.root, env.bridge, env.accounts)
    env.bridge.submit(env.accounts.mailbox().check)
    assert pump(env.root, lambda: "C: QUIT" in log.contents())
    text = log.contents()
    assert "C: USER user" in text
    assert "C: PASS ********" in text and "pass\n" not in text
    tags = log.text.tag_names(log.text.search("C: STAT", "1.0"))
    assert "client" in tags
    assert "server" in log.text.tag_names(log.text.search("S: +OK", "1.0"))
    log.query.set("UIDL")
    assert log.find_next() and log.text.tag_ranges("match")
    assert not log.autoscroll.get()
    saved = tmp_path / "log.txt"
    log.save_to(saved)
    assert "C: UIDL" in saved.read_text()
    assert "C: STAT" in log.copy()
    log.filter.set("nonexistent")
    log._render()
    assert log.contents() == ""
    log.filter.set("All accounts")
    log.clear()
    assert log.contents() == ""
    log.close()
    assert not log.alive


def test_settings_dialog(root: tk.Tk, make_devserver: MakeServer, tmp_path: Path) -> None:
    srv = make_devserver()
    home = tmp_path / "home"
    accounts = Accounts(resolve_paths(home=home), Settings(), passwords=MemoryStore())
    bridge = TkBridge(root)
    saved: list[Settings] = []
    dlg = SettingsDialog(root, bridge, accounts, on_saved=saved.append)
    root.update()
    assert dlg.vars["port"].get() == "995"
    dlg.security.set("starttls")
    dlg._security_changed()
    assert dlg.vars["port"].get() == "110"  # follows security until typed
    dlg.vars["port"].set("70000")
    dlg.port_typed = True
    dlg.vars["host"].set("127.0.0.1")
    dlg.vars["username"].set("user")
    assert not dlg.save()
    assert "65535" in dlg.errors["port"].cget("text")  # the message sits by the field
    dlg.vars["port"].set(str(srv.port))
    dlg.security.set("none")
    dlg._security_changed()
    assert dlg.vars["port"].get() == str(srv.port)  # typed: kept
    assert "unencrypted" in dlg.errors["security"].cget("text")
    assert not dlg.save()
    refusal = dlg.errors["security"].cget("text")  # points at the box, not at the JSON key
    assert "Yes, send my password unencrypted" in refusal and "allow_insecure" not in refusal
    dlg.allow_insecure.set(True)
    dlg.vars["password"].set("wrong")
    dlg.test_connection()
    assert pump(root, lambda: dlg.test_result)
    assert dlg.test_result.startswith("Failed") and "wrong" not in dlg.test_result
    dlg.test_result = ""
    dlg.vars["password"].set("pass")
    dlg.test_connection()
    assert pump(root, lambda: dlg.test_result)
    assert dlg.test_result.startswith("OK: 5 messages")
    assert dlg.save()
    assert pump(root, lambda: not dlg.alive and saved)
    on_disk = load_settings(home / "settings.json")
    assert on_disk.accounts[0].port == srv.port and on_disk.accounts[0].allow_insecure
    assert "pass" not in (home / "settings.json").read_text().replace("allow_insecure", "")
    assert accounts.password(on_disk.accounts[0]) == "pass"


@pytest.mark.posix_only("drives X input and grabs the X screen with Linux programs "
                        "(xdotool, Xlib); the Windows lane clicks the Windows app from Linux")
def test_real_input_and_screenshot(env: Env, x_display: str, tmp_path: Path) -> None:
    win = env.window()
    win.top.geometry("+20+20")
    assert pump(env.root, lambda: not win.busy and win.tree.get_children())
    pump(env.root, timeout=0.3)
    item = win.tree.get_children()[1]
    x, y, w, h = win.tree.bbox(item, "subject")
    xdotool(x_display, "mousemove", str(win.tree.winfo_rootx() + x + 20),
            str(win.tree.winfo_rooty() + y + h // 2), "click", "1")
    assert pump(env.root, lambda: win.tree.selection() == (item,))
    win.top.focus_force()
    win.tree.focus_set()
    pump(env.root, timeout=0.2)
    xdotool(x_display, "key", "Delete")
    assert pump(env.root, lambda: "marked" in win.tree.item(item, "tags"))
    bx, by = center(win.buttons["refresh"])
    xdotool(x_display, "mousemove", str(bx), str(by), "click", "1")
    assert pump(env.root, lambda: win.busy or "Checked" in win.status.cget("text"))
    assert pump(env.root, lambda: not win.busy)
    out = os.environ.get("SCREENSHOT_DIR") or str(tmp_path)
    os.makedirs(out, exist_ok=True)
    path = screenshot(x_display, os.path.join(out, "mailbox-window.png"),
                      (win.top.winfo_rootx(), win.top.winfo_rooty(),
                       win.top.winfo_rootx() + win.top.winfo_width(),
                       win.top.winfo_rooty() + win.top.winfo_height()))
    from PIL import Image

    img = Image.open(path)
    assert img.size[0] > 600 and len(img.getcolors(1 << 16) or []) > 20


def test_cancel_download_in_window(root: tk.Tk, make_devserver: MakeServer,
                                   tmp_path: Path) -> None:
    big = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 20_000
    srv = make_devserver(MemoryMailbox([big] * 3))
    e = Env(root, make_accounts(tmp_path / "h", srv))
    win = e.window()
    assert pump(root, lambda: not win.busy and win.tree.get_children())
    win.tree.selection_set(win.tree.get_children())
    win.download_selected()
    assert pump(root, lambda: float(win.progress["value"]) > 0)
    win.cancel_button.invoke()
    assert pump(root, lambda: not win.busy)
    assert "cancelled" in win.status.cget("text")
    target = e.accounts.paths.download_dir_for(e.accounts.mailbox().account)
    assert not [p for p in target.iterdir() if p.suffix != ".eml"]  # no half file


def test_tk_callback_errors_go_to_the_log(root: tk.Tk, caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise RuntimeError("callback exploded")

    b = tk.Button(root, command=boom)
    b.invoke()
    assert "callback exploded" in caplog.text


def test_log_window_keeps_the_last_lines(env: Env) -> None:
    from traymail.pop3 import Direction, TranscriptEvent
    from traymail.ui import log_window

    log = LogWindow(env.root, env.bridge, env.accounts)
    for i in range(log_window.MAX_LINES + 50):
        log.add("acct0", TranscriptEvent(Direction.NOTE, time.time(), f"line {i}"))
    lines = log.contents().splitlines()
    assert len(lines) == log_window.MAX_LINES
    assert lines[-1].endswith(f"line {log_window.MAX_LINES + 49}")
    log.close()


def test_settings_offers_to_trust_a_self_signed_certificate(
        root: tk.Tk, make_devserver: MakeServer, tmp_path: Path) -> None:
    from .realservers import make_certificate

    cert = make_certificate(tmp_path / "cert")
    srv = make_devserver(ssl_context=cert.server_context())
    accounts = Accounts(resolve_paths(home=tmp_path / "home"), Settings(),
                        passwords=MemoryStore())
    dlg = SettingsDialog(root, TkBridge(root), accounts)
    dlg.vars["host"].set("127.0.0.1")
    dlg.vars["port"].set(str(srv.port))
    dlg.port_typed = True
    dlg.vars["username"].set("user")
    dlg.vars["password"].set("pass")
    dlg.test_connection()
    assert pump(root, lambda: dlg.test_result)
    assert "not trusted" in dlg.test_result and dlg.trust_button.winfo_manager() == "grid"
    dlg.trust_button.invoke()
    dlg.test_result = ""
    dlg.test_connection()
    assert pump(root, lambda: dlg.test_result)
    assert dlg.test_result.startswith("OK: 5 messages")
    assert dlg.save()
    assert pump(root, lambda: not dlg.alive)
    saved = (tmp_path / "home" / "settings.json").read_text()
    assert dlg.offered_fingerprint and dlg.offered_fingerprint in saved


def test_settings_not_saved_without_a_keyring(root: tk.Tk, tmp_path: Path) -> None:
    from traymail.passwords import KeyringUnavailable

    class NoKeyring(MemoryStore):
        def set(self, account: Account, password: str) -> None:
            raise KeyringUnavailable("no secure keyring is available (test)")

    home = tmp_path / "home"
    accounts = Accounts(resolve_paths(home=home), Settings(), passwords=NoKeyring())
    dlg = SettingsDialog(root, TkBridge(root), accounts)
    dlg.vars["host"].set("pop.example.com")
    dlg.vars["username"].set("me")
    dlg.vars["password"].set("pw")
    assert dlg.save()
    assert pump(root, lambda: "Not saved" in dlg.general_error.cget("text"))
    assert "no secure keyring" in dlg.general_error.cget("text")
    assert dlg.alive and not (home / "settings.json").exists()  # nothing half-saved


def test_download_new_reports_a_message_it_could_not_save(env: Env) -> None:
    from traymail.files import eml_path

    box = env.accounts.mailbox()
    heads = box.headers()
    target = env.accounts.paths.download_dir_for(box.account)
    cached = box.store.headers(box.name)[heads[2].uid]
    eml_path(target, heads[2].uid, cached, b"").mkdir(parents=True)  # its name is taken
    win = env.window()
    assert pump(env.root, lambda: not win.busy and win.tree.get_children())
    win.download_new()
    assert pump(env.root, lambda: not win.busy)
    assert win.status.cget("text").startswith(
        "Downloaded 7 messages; 1 of 8 messages could not be saved and stay new")
    assert win.summary.cget("text").startswith("8 messages, 1 new")
    assert len([p for p in target.glob("*.eml") if p.is_file()]) == 7
    assert not list(target.glob(".*.part"))
