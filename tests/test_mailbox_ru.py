"""The mailbox window, the tray menu and the tooltip in Russian (issue 14,
item 4): the title counts the unread with the Russian plural, the headings,
a relative date and a size are Russian, the delete confirmation lists the
messages in Russian; the App's menu entries and its tooltip follow the
language. Real Tk on Xvfb, a devserver; English is back after each test."""

from __future__ import annotations

import sys
import time
import tkinter as tk
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from traymail.devserver import DevServer, MemoryMailbox
from traymail.i18n import format_size, set_language
from traymail.samples import sample_messages
from traymail.tray import MenuEntry
from traymail.ui.message_list import relative_date, sender_text

from .test_mailbox_daily import opened
from .uitools import pump

MakeServer = Callable[..., DevServer]


@pytest.fixture(autouse=True)
def russian() -> Iterator[None]:
    set_language("ru")
    yield
    set_language("en")  # the next test module expects English (conftest)


def test_relative_dates_and_sizes_in_russian() -> None:
    now = time.mktime((2026, 11, 4, 12, 0, 0, 0, 0, -1))  # a Wednesday
    assert relative_date(now - 3 * 3600, now=now) == "Сегодня 09:00"
    assert relative_date(now - 86400 - 3600, now=now) == "Вчера 11:00"
    assert relative_date(now - 2 * 86400 + 2 * 3600 + 300, now=now) == "Пн 14:05"
    assert relative_date(time.mktime((2026, 11, 3, 8, 0, 0, 0, 0, -1)),
                         now=now + 7 * 86400) == "3 нояб."
    assert relative_date(time.mktime((2024, 5, 3, 8, 0, 0, 0, 0, -1)), now=now) == "3 мая 2024"
    assert format_size(1400) == "1,4 КБ"
    assert format_size(3) == "3 байта"
    assert sender_text("") == "(неизвестный отправитель)"


def test_mailbox_window_in_russian(root: tk.Tk, make_devserver: MakeServer,
                                   tmp_path: Path) -> None:
    srv = make_devserver(MemoryMailbox(sample_messages(6)))
    texts: list[tuple[str, str]] = []
    e, win = opened(root, srv, tmp_path, confirm=lambda t, m: texts.append((t, m)) is None)
    # the title: "6 новых" (many), the summary: "6 писем, 6 новых, … КБ"
    assert win.top.title() == "traymail — acct0: 6 новых"
    summary = win.summary.cget("text")
    assert summary.startswith("6 писем, 6 новых, ") and " КБ" in summary, summary
    assert "проверено в" in summary
    assert win.tree.heading("date", "text") == "Дата ▼"
    assert [win.tree.heading(c, "text") for c in ("from", "subject", "size")] == \
        ["От", "Тема", "Размер"]
    assert win.buttons["refresh"].cget("text") == "Обновить"
    assert win.buttons["delete"].cget("text") == "Удалить помеченные…"
    values = [win.tree.item(i, "values") for i in win.tree.get_children()]
    dates, sizes = [v[4] for v in values], [v[5] for v in values]
    assert all(d and not any(w in d for w in ("Today", "Yesterday", "Mon", "Nov"))
               for d in dates), dates
    assert all(s.endswith((" КБ", " байт", " байта", " байтов")) for s in sizes), sizes
    # the date and size columns fit their Russian texts in bold
    width = int(win.tree.column("date", "width"))
    assert all(win.list.bold.measure(d) + 8 <= width for d in dates)
    assert all(win.list.bold.measure(s) + 8 <= int(win.tree.column("size", "width"))
               for s in sizes)
    # a relative date of today is shown the Russian way
    today = [h for h in win.headers.values()
             if h.timestamp is not None and time.localtime(h.timestamp)[:3]
             == time.localtime()[:3]]
    for h in today:
        assert win.tree.item(h.uid, "values")[4].startswith("Сегодня ")
    # one message read: the title's singular ("1 новое") after the others were seen
    uids = list(win.tree.get_children())[:2]
    win.tree.selection_set(uids)
    win.toggle_mark()
    assert "; 2 помечены для удаления" in win.summary.cget("text")
    win.delete_marked()
    title, text = texts[0]
    assert title == "Удаление из acct0"
    assert text.startswith("Удалить 2 письма (") and "с сервера acct0 (user на 127.0.0.1)?" in text
    for u in uids:
        h = win.headers[u]
        assert f"• {sender_text(h.sender)}: {h.subject}" in text
    assert text.endswith("Это действие нельзя отменить.")
    pump(root, lambda: not win.busy and "Удалено 2 письма." in win.status.cget("text"), 10)
    assert "Удалено 2 письма." in win.status.cget("text"), win.status.cget("text")
    assert win.top.title() == "traymail — acct0: 4 новых"
    win.close()


def test_title_singular_and_few(root: tk.Tk, make_devserver: MakeServer,
                                tmp_path: Path) -> None:
    srv = make_devserver(MemoryMailbox(sample_messages(3)))
    e, win = opened(root, srv, tmp_path)
    assert win.top.title() == "traymail — acct0: 3 новых"
    assert win.summary.cget("text").startswith("3 письма, 3 новых, ")
    e.accounts.mailbox().mark_all_seen()
    win.load_cached()
    assert win.top.title() == "traymail — acct0: 0 новых"
    win.close()
    srv1 = make_devserver(MemoryMailbox(sample_messages(1)))
    e1, one = opened(root, srv1, tmp_path / "one")
    assert one.top.title() == "traymail — acct0: 1 новое"
    assert one.summary.cget("text").startswith("1 письмо, 1 новое, ")
    one.close()


def labels(entries: list[MenuEntry]) -> list[str]:
    out: list[str] = []
    for e in entries:
        if e.label != "-":
            out.append(e.label)
        out += labels(e.submenu)
    return out


def test_tray_menu_and_tooltip_in_russian(x_display: str, make_devserver: MakeServer,
                                          tmp_path: Path) -> None:
    from .test_app import make_app

    srv = make_devserver(MemoryMailbox(sample_messages(2)))
    app = make_app(tmp_path / "home", srv, use_tray=False, single_instance=False)
    app.start()
    try:
        names = labels(app.menu_entries())
        assert names == ["Открыть почтовый ящик", "Проверить сейчас", "Показать журнал",
                         "Настройки…", "Правила…", "Приостановить уведомления", "На 15 минут",
                         "На 1 час", "До возобновления", "Возобновить",
                         "Отметить все как просмотренные",
                         "Запускать вместе с Windows" if sys.platform == "win32"
                         else "Запускать вместе с системой", "Выход"], names
        assert pump(app.root, lambda: "Home" in app.results, 10)
        title = app.icon_and_title()[1]
        assert title.startswith("traymail — 2 новых (") and " КБ), проверено в " in title, title
        app.pause(60)
        assert app.icon_and_title()[1].endswith(", приостановлено")
        app.hover(200, 200, True)
        assert pump(app.root, lambda: app.tooltip.visible, 5)
        assert app.tooltip.text == app.icon_and_title()[1]
        app.hover(200, 200, False)
        assert pump(app.root, lambda: not app.tooltip.visible, 5)
        set_language("en")  # a switch: the next menu is English again
        assert labels(app.menu_entries())[0] == "Open mailbox"
    finally:
        app.shutdown()
