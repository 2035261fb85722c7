"""A deterministic sample mailbox: realistic messages in several charsets.

Used by ``traymail --demo``, the devserver's command line and tests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

__all__ = ["sample_message", "sample_messages"]

_SENDERS = [
    ("Alice Martin", "alice@example.org"),
    ("Jürgen Groß", "juergen@example.de"),
    ("Анна Петрова", "anna@example.ru"),
    ("李小龙", "li@example.cn"),
    ("Newsletter", "news@example.com"),
    ("Bob O'Neil", "bob@example.net"),
]
_SUBJECTS = [
    "Lunch on Friday?",
    "Grüße aus München – Fotos",
    "Отчёт за ноябрь",
    "会议纪要",
    "Your weekly digest",
    "Invoice #2026-11 (PDF attached)",
    "Re: the server migration",
    "Café ☕ tomorrow?",
]

_BASE = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def sample_message(i: int, body_lines: int = 12) -> bytes:
    """Message number ``i`` of the sample set (same bytes every time)."""
    name, addr = _SENDERS[i % len(_SENDERS)]
    msg = EmailMessage()
    msg["From"] = f"{name} <{addr}>"
    msg["To"] = "Demo User <demo@traymail.invalid>"
    msg["Subject"] = _SUBJECTS[i % len(_SUBJECTS)]
    msg["Date"] = format_datetime(_BASE + timedelta(hours=7 * i))
    msg["Message-ID"] = f"<sample-{i}@traymail.invalid>"
    lines = [f"Line {n} of sample message {i}." for n in range(1, body_lines + 1)]
    lines.insert(1, ".a line that starts with a dot (dot-stuffed on the wire)")
    msg.set_content("\n".join(lines) + "\n")
    if i % 5 == 3:  # every fifth message carries an attachment of varied size
        size = 20_000 + (i * 7919) % 180_000
        blob = bytes((k * 31 + i) % 256 for k in range(size))
        msg.add_attachment(blob, maintype="application", subtype="pdf",
                           filename=f"report-{i}.pdf")
    return msg.as_bytes().replace(b"\n", b"\r\n")


def sample_messages(count: int, start: int = 0) -> list[bytes]:
    return [sample_message(i) for i in range(start, start + count)]
