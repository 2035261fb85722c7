"""The mailbox window's message table: rows (sender with address, relative
date, attachment mark), the sort (arrow on its column, remembered), and
keyboard triage (arrows, Space/Del to mark, Enter to open, Ctrl+A).

Rows are updated in place: marking keeps the selection and the keyboard
focus row, so Del, Down, Del marks two messages (issue 13)."""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from email.utils import parseaddr
from tkinter import ttk

from ..i18n import N_, _, format_date, format_size, format_time, ngettext
from ..mailbox import Header
from .root import shared_font

__all__ = ["MessageList", "relative_date", "sender_text", "COLUMNS", "plural", "strike"]

#: (column, heading, width); the headings are translated where shown
COLUMNS = (("flag", "", 40), ("att", "⊕", 28), ("from", N_("From"), 250),
           ("subject", N_("Subject"), 300), ("date", N_("Date"), 110),
           ("size", N_("Size"), 80))
#: weekday abbreviations (Monday first, as datetime.weekday()) and months
_WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
_MONTHS = (N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"), N_("Jul"),
           N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec"))
ATTACHMENT = "⊕"
_ARROW = {True: " ▼", False: " ▲"}
_SORT_KEYS = ("flag", "att", "from", "subject", "date", "size")


def strike(text: str) -> str:
    """Struck-through text: each character followed by U+0336 COMBINING LONG
    STROKE OVERLAY."""
    return "".join(c + "\u0336" for c in text)


def plural(n: int, singular: str, plural_form: str) -> str:
    """``1 message``, ``2 messages`` (never ``message(s)``) in the current
    language: ``singular``/``plural_form`` are ngettext msgids with ``{n}``,
    marked where they are written (xgettext sees only literal arguments)."""
    return ngettext(singular, plural_form, n).format(n=n)


def weekday_name(day: int) -> str:
    """``datetime.weekday()`` (0 = Monday) as ``Mon`` / ``Пн``."""
    return _(_WEEKDAYS[day])


def month_name(month: int) -> str:
    """1..12 as ``Nov`` / ``нояб.`` (the form after a day number)."""
    return _(_MONTHS[month - 1])


def relative_date(timestamp: float | None, fallback: str = "",
                  now: float | None = None) -> str:
    """'Today 09:00', 'Yesterday 18:30', 'Mon 14:05' (this week), '3 Nov'
    (this year), '3 Nov 2024'."""
    if timestamp is None:
        return fallback
    when = datetime.fromtimestamp(timestamp)
    today = datetime.fromtimestamp(now if now is not None else time.time()).date()
    day = when.date()
    if day >= today - timedelta(days=1):  # Today 09:00 / Yesterday 18:30
        return format_date(timestamp, now=now)
    if today - timedelta(days=6) <= day < today:
        # TRANSLATORS: a date this week in the message list: "Mon 14:05"
        return _("{weekday} {time}").format(weekday=weekday_name(day.weekday()),
                                            time=format_time(timestamp))
    if day.year == today.year:
        # TRANSLATORS: a date this year in the message list: "3 Nov"
        return _("{day} {month}").format(day=day.day, month=month_name(day.month))
    # TRANSLATORS: an older date in the message list: "3 Nov 2024"
    return _("{day} {month} {year}").format(day=day.day, month=month_name(day.month),
                                            year=day.year)


def sender_text(sender: str) -> str:
    """'Name <addr>' when both are there: the address is what shows a spoofed
    sender."""
    name, addr = parseaddr(sender)
    if name and addr:
        return f"{name} <{addr}>"
    return addr or name or sender or _("(unknown sender)")


class MessageList:
    def __init__(self, parent: tk.Misc, top: tk.Misc, *, remember: Callable[[str], object],
                 remembered: str | None, on_open: Callable[[], object],
                 on_mark: Callable[[], object]) -> None:
        self.frame = ttk.Frame(parent)
        self.remember = remember
        self.headers: dict[str, Header] = {}
        self.sort = self._parse_sort(remembered)
        self.tree = ttk.Treeview(self.frame, columns=[c for c, _, _ in COLUMNS],
                                 show="headings", selectmode="extended", height=14)
        for col, _text, width in COLUMNS:
            self.tree.heading(col, command=lambda c=col: self.sort_by(c))
            self.tree.column(col, width=width, minwidth=24,
                             stretch=col in ("from", "subject"),
                             anchor="e" if col == "size" else
                             "center" if col == "att" else "w")
        self._headings()
        ys = ttk.Scrollbar(self.frame, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=ys.set)
        self.tree.grid(row=0, column=0, sticky="nsew")
        ys.grid(row=0, column=1, sticky="ns")
        self.frame.rowconfigure(0, weight=1)
        self.frame.columnconfigure(0, weight=1)
        self.bold = shared_font(top, "TkDefaultFont", weight="bold")
        self.tree.tag_configure("new", font=self.bold)
        self.tree.tag_configure("downloaded", foreground="#555555")
        # ttk's Treeview draws no font overstrike: marked rows are struck with
        # U+0336 (see strike()) and red
        self.tree.tag_configure("marked", foreground="#c0392b")
        self._fit_date_column()
        t = self.tree
        t.bind("<Return>", lambda e: (on_open(), "break")[1])
        t.bind("<KP_Enter>", lambda e: (on_open(), "break")[1])
        t.bind("<Delete>", lambda e: (on_mark(), "break")[1])
        t.bind("<space>", lambda e: (on_mark(), "break")[1])
        t.bind("<Control-a>", lambda e: (self.select_all(), "break")[1])
        t.bind("<Double-1>", lambda e: on_open())

    # -- sort ------------------------------------------------------------------------
    @staticmethod
    def _parse_sort(text: str | None) -> tuple[str, bool]:
        column, _, order = (text or "").partition(":")
        if column in _SORT_KEYS and order in ("asc", "desc"):
            return column, order == "desc"
        return "date", True

    def _headings(self) -> None:
        column, descending = self.sort
        for col, text, _w in COLUMNS:
            label = _(text) if text and text != ATTACHMENT else text
            self.tree.heading(col, text=label + (_ARROW[descending] if col == column else ""))

    def sort_by(self, column: str) -> None:
        current, descending = self.sort
        self.sort = (column, not descending if column == current else column == "date")
        self._headings()
        self.remember(f"{self.sort[0]}:{'desc' if self.sort[1] else 'asc'}")
        self.show(list(self.headers.values()))

    def _sorted(self, headers: list[Header]) -> list[Header]:
        column, descending = self.sort
        key: Callable[[Header], object] = {
            "from": lambda h: h.sender.lower(), "subject": lambda h: h.subject.lower(),
            "date": lambda h: h.timestamp or 0.0, "size": lambda h: h.size or 0,
            "flag": lambda h: (h.marked, h.new), "att": lambda h: h.attachments,
        }[column]
        return sorted(headers, key=key, reverse=descending)  # type: ignore[arg-type]

    # -- rows --------------------------------------------------------------------------
    def _fit_date_column(self) -> None:
        """Wide enough for the longest date in bold (new rows are bold)."""
        late = time.mktime((2026, 9, 30, 23, 59, 0, 0, 0, -1))
        samples = [relative_date(late, now=late + 86400),  # Yesterday 23:59
                   *(relative_date(late - d * 86400, now=late + 86400) for d in range(1, 8)),
                   relative_date(late, now=late + 400 * 86400)]  # 30 Sep 2026
        need = max(self.bold.measure(s) for s in samples) + 16
        self.tree.column("date", width=need, minwidth=need)
        size = max(self.bold.measure(format_size(999_900_000)),
                   self.bold.measure(format_size(999))) + 16
        self.tree.column("size", width=size, minwidth=size)

    @staticmethod
    def row(h: Header) -> tuple[str, ...]:
        flag = ("✗" if h.marked else "") + ("●" if h.new else "") + ("↓" if h.downloaded else "")
        sender, subject = sender_text(h.sender), h.subject or _("(no subject)")
        if h.marked:
            sender, subject = strike(sender), strike(subject)
        return (flag, ATTACHMENT if h.attachments else "", sender, subject,
                relative_date(h.timestamp, h.date),
                format_size(h.size) if h.size is not None else "")

    @staticmethod
    def tags(h: Header) -> tuple[str, ...]:
        tags = []
        if h.new:
            tags.append("new")
        if h.downloaded:
            tags.append("downloaded")
        if h.marked:
            tags.append("marked")
        return tuple(tags)

    def show(self, headers: list[Header]) -> None:
        """Rebuild the rows; the selection and the focus row stay."""
        keep = list(self.tree.selection())
        focus = self.tree.focus()
        self.headers = {h.uid: h for h in headers}
        self.tree.delete(*self.tree.get_children())
        for h in self._sorted(headers):
            self.tree.insert("", "end", iid=h.uid, values=self.row(h), tags=self.tags(h))
        still = [u for u in keep if u in self.headers]
        if still:
            self.tree.selection_set(still)
        self._restore_focus(focus if focus in self.headers else (still[0] if still else ""))

    def update(self, headers: Iterable[Header]) -> None:
        """Refresh rows in place (after a mark): nothing moves, focus stays."""
        for h in headers:
            if h.uid in self.headers and self.tree.exists(h.uid):
                self.headers[h.uid] = h
                self.tree.item(h.uid, values=self.row(h), tags=self.tags(h))

    def _restore_focus(self, uid: str) -> None:
        children = self.tree.get_children()
        if not uid and children:
            uid = children[0]
        if uid:
            self.tree.focus(uid)
            self.tree.see(uid)

    def select_all(self) -> None:
        children = self.tree.get_children()
        self.tree.selection_set(children)

    def selected(self) -> list[str]:
        return list(self.tree.selection())
