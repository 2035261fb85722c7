"""The preview pane: a header block (From, To, Date, Subject, attachments)
above the first lines of the body. Every text here was cleaned by the
engine (traymail.decode / traymail.mimeinfo); nothing is interpreted."""

from __future__ import annotations

import tkinter as tk
from datetime import datetime

from ..i18n import _, format_size, format_time, ngettext
from ..mailbox import Header
from ..mimeinfo import Preview
from ..text import clean
from .message_list import month_name, sender_text, weekday_name
from .root import shared_font

__all__ = ["PreviewPane", "header_lines"]


def header_lines(header: Header, preview: Preview | None) -> list[tuple[str, str]]:
    """(label, value) rows of the header block."""
    when = header.date
    if header.timestamp is not None:
        when = full_date(header.timestamp)
    none = _("(none)")
    rows = [(_("From"), sender_text(header.sender)), (_("To"), header.recipients or none),
            (_("Date"), when or none), (_("Subject"), header.subject or _("(no subject)"))]
    if preview is not None and preview.attachments:
        names = [_("{name} ({size})").format(name=a.name, size=format_size(a.size))
                 if a.size is not None else a.name for a in preview.attachments]
        if preview.more:
            names.append(ngettext("and {n} more", "and {n} more", preview.more)
                         .format(n=preview.more))
        count = len(preview.attachments) + preview.more
        rows.append((ngettext("Attachment", "Attachments", count), ", ".join(names)))
    elif (preview is not None and preview.has_attachments) or header.attachments:
        rows.append((_("Attachments"), _("has attachments (names further down the message)")))
    return [(label, clean(value)) for label, value in rows]


def full_date(timestamp: float) -> str:
    """``Mon 30 Nov 2026 09:00`` / ``Пн 30 нояб. 2026 09:00``."""
    when = datetime.fromtimestamp(timestamp)
    # TRANSLATORS: the Date line of the preview: "Mon 30 Nov 2026 09:00"
    return _("{weekday} {day} {month} {year} {time}").format(
        weekday=weekday_name(when.weekday()), day=f"{when.day:02d}",
        month=month_name(when.month), year=when.year,
        time=format_time(timestamp))


class PreviewPane:
    def __init__(self, parent: tk.Misc) -> None:
        self.text = tk.Text(parent, height=9, wrap="word", state="disabled",
                            relief="flat", padx=6, pady=4)
        self.text.tag_configure("label", font=shared_font(parent, "TkDefaultFont",
                                                         weight="bold"))
        self.text.tag_configure("rule", foreground="#888888")

    def show_message(self, header: Header | None, preview: Preview | None,
                     body: str) -> None:
        t = self.text
        t.configure(state="normal")
        t.delete("1.0", "end")
        if header is not None:
            for label, value in header_lines(header, preview):
                t.insert("end", f"{label}: ", ("label",))
                t.insert("end", value + "\n")
            t.insert("end", "─" * 40 + "\n", ("rule",))
        t.insert("end", body)
        t.configure(state="disabled")

    def show_text(self, text: str) -> None:
        self.show_message(None, None, text)

    def get(self) -> str:
        return self.text.get("1.0", "end")
