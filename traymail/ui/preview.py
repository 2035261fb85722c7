"""The preview pane: a header block (From, To, Date, Subject, attachments)
above the first lines of the body. Every text here was cleaned by the
engine (traymail.decode / traymail.mimeinfo); nothing is interpreted."""

from __future__ import annotations

import time
import tkinter as tk

from ..decode import format_size
from ..mailbox import Header
from ..mimeinfo import Preview
from ..text import clean
from .message_list import plural, sender_text
from .root import shared_font

__all__ = ["PreviewPane", "header_lines"]


def header_lines(header: Header, preview: Preview | None) -> list[tuple[str, str]]:
    """(label, value) rows of the header block."""
    when = header.date
    if header.timestamp is not None:
        when = time.strftime("%a %d %b %Y %H:%M", time.localtime(header.timestamp))
    rows = [("From", sender_text(header.sender)), ("To", header.recipients or "(none)"),
            ("Date", when or "(none)"), ("Subject", header.subject or "(no subject)")]
    if preview is not None and preview.attachments:
        names = [f"{a.name} ({format_size(a.size)})" if a.size is not None else a.name
                 for a in preview.attachments]
        if preview.more:
            names.append(f"and {preview.more} more")
        rows.append((plural(len(preview.attachments) + preview.more,
                            "attachment").split(" ", 1)[1].capitalize(), ", ".join(names)))
    elif (preview is not None and preview.has_attachments) or header.attachments:
        rows.append(("Attachments", "has attachments (names further down the message)"))
    return [(label, clean(value)) for label, value in rows]


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
