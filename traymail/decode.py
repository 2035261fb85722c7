"""Readable text from raw mail: RFC 2047 headers, dates, a body preview.

Built on the stdlib ``email`` package (policy.default). Nothing here raises
on bad input: undeclared 8-bit headers are tried as UTF-8, then the
message's charset, then Latin-1; broken encoded-words are shown as sent.
"""

from __future__ import annotations

import email.utils
import re
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser

from .store import StoredHeader

__all__ = ["parse_headers", "preview_text", "format_size"]

_HEADER_PARSER = BytesParser(policy=policy.default)
_SURROGATES = re.compile("[\udc80-\udcff]")
_TAGS = re.compile(r"<[^>]{0,2000}>")
_SPACE = re.compile(r"[ \t\r\f\v]+")


def _charset_hint(msg: Message) -> str | None:
    try:
        return msg.get_content_charset()
    except Exception:
        return None


def _readable(raw: str, hint: str | None) -> str:
    """Repair undeclared 8-bit text that the parser kept as surrogates."""
    if not _SURROGATES.search(raw):
        return raw
    data = raw.encode("utf-8", "surrogateescape")
    for charset in ("utf-8", hint):
        if charset:
            try:
                return data.decode(charset)
            except (LookupError, UnicodeDecodeError):
                pass
    return data.decode("latin-1")


def _header(msg: Message, name: str) -> str:
    raw = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    if raw is None:
        return ""
    if _SURROGATES.search(raw):  # undeclared 8-bit: find its charset first
        text = _readable(raw, _charset_hint(msg))
        try:
            text = str(policy.default.header_factory(name, text))
        except Exception:
            pass
    else:
        try:
            text = str(msg[name])
        except Exception:  # a header the policy cannot parse: show it as sent
            text = raw
    return " ".join(text.split())


def parse_headers(uid: str, size: int | None, data: bytes) -> StoredHeader:
    """Decode the header block of a message (e.g. a ``TOP n 0`` reply)."""
    head = data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    try:
        msg = _HEADER_PARSER.parsebytes(head, headersonly=True)
    except Exception:  # pragma: no cover - the parser is lenient
        msg = EmailMessage()
    date = _header(msg, "Date")
    timestamp: float | None = None
    shown = date
    try:
        dt = email.utils.parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError, IndexError):
        dt = None
    if dt is not None:
        if dt.tzinfo is None:
            dt = dt.astimezone()
        timestamp = dt.timestamp()
        shown = datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
    return StoredHeader(
        uid=uid, size=size, sender=_header(msg, "From"), recipients=_header(msg, "To"),
        subject=_header(msg, "Subject"), date=shown, timestamp=timestamp,
        message_id=_header(msg, "Message-ID"),
    )


def preview_text(data: bytes, max_chars: int = 4000) -> str:
    """The first readable text of a (possibly truncated) message."""
    try:
        msg = _HEADER_PARSER.parsebytes(data)
        part = msg.get_body(preferencelist=("plain", "html")) if isinstance(
            msg, EmailMessage) else None
    except Exception:
        msg, part = None, None
    text = ""
    if part is not None:
        try:
            text = part.get_content()
        except Exception:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                text = payload.decode(_charset_hint(part) or "utf-8", "replace")
        if part.get_content_type() == "text/html":
            text = _TAGS.sub(" ", text)
    elif b"\r\n\r\n" in data:
        text = data.split(b"\r\n\r\n", 1)[1].decode("utf-8", "replace")
    lines = [_SPACE.sub(" ", line).strip() for line in str(text).splitlines()]
    out = "\n".join(lines).strip()
    return out[:max_chars]


def format_size(octets: int) -> str:
    """1234 -> '1.2 KB' (decimal units, as mail clients show them)."""
    size = float(octets)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover
