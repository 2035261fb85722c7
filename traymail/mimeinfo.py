"""What a preview can tell about a message's parts from its first lines
(a ``TOP n lines`` reply): the attachments' names, and their sizes when a
part is complete within those lines.

MIME structure: RFC 2046 §5.1 (multipart, boundaries); a part is an
attachment by its Content-Disposition (RFC 2183 §2.2, whose ``size``
parameter, §2.7, is used when present) or by a file name alone. The top-level
Content-Type alone (``multipart/mixed`` or a non-text single part) only says
"has attachments". Every name passes :func:`traymail.text.clean`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .decode import _bounded, _split_headers, preview_text
from .i18n import _
from .text import clean

if TYPE_CHECKING:
    from email.message import Message

__all__ = ["Attachment", "Preview", "preview_details", "attachments_hint", "MAX_ATTACHMENTS"]

#: attachments listed at most (the rest are counted)
MAX_ATTACHMENTS = 20
_TYPE = re.compile(r"^\s*([\w.+-]{1,60})/([\w.+-]{1,60})")


@dataclass(frozen=True)
class Attachment:
    name: str
    #: octets once decoded; None when the part runs past the lines fetched
    size: int | None


@dataclass(frozen=True)
class Preview:
    text: str
    attachments: tuple[Attachment, ...]
    #: attachments seen, or promised by the top-level Content-Type
    has_attachments: bool
    #: attachments beyond MAX_ATTACHMENTS
    more: int = 0


def attachments_hint(content_type: str) -> bool:
    """True for ``multipart/mixed`` and a non-text single part (an attached
    file sent alone): the header block alone suggests attachments."""
    m = _TYPE.match(content_type)
    if m is None:
        return False
    main, sub = m.group(1).lower(), m.group(2).lower()
    if main == "multipart":
        return sub == "mixed"
    return main not in ("text", "message")


def _is_attachment(part: Message) -> bool:
    if part.is_multipart():
        return False
    disposition = (part.get("content-disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment" or (disposition != "inline"
                                           and bool(part.get_param("name")
                                                    or part.get_param("filename",
                                                                      header="content-disposition")))


def _size(part: Message, complete: bool) -> int | None:
    declared = part.get_param("size", header="content-disposition")
    if isinstance(declared, str) and declared.isdigit() and len(declared) < 16:
        return int(declared)
    if not complete:
        return None
    payload = part.get_payload(decode=True)
    return len(payload) if isinstance(payload, bytes) else None


def _walk(container: Message, found: list[Attachment], counter: list[int]) -> None:
    from email import errors
    from email.message import Message

    parts = container.get_payload()
    if not isinstance(parts, list):
        return
    truncated = any(isinstance(d, (errors.CloseBoundaryNotFoundDefect,
                                   errors.StartBoundaryNotFoundDefect))
                    for d in container.defects)
    for i, part in enumerate(parts[:200]):
        if not isinstance(part, Message):
            continue
        if part.is_multipart():
            _walk(part, found, counter)
        elif _is_attachment(part):
            counter[0] += 1
            if len(found) < MAX_ATTACHMENTS:
                try:
                    raw = part.get_filename() or _("unnamed")
                except Exception:
                    raw = _("unnamed")
                complete = not (truncated and i == len(parts) - 1)
                found.append(Attachment(clean(str(raw))[:200] or _("unnamed"),
                                        _size(part, complete)))


def preview_details(data: bytes) -> Preview:
    """The preview text and the attachments visible in ``data`` (the start of
    a message). Never raises on bad input.

    The MIME parser (``email.policy.default``, its header registry and
    RFC 5322 parser: 0.8 MiB) is imported here, by the first preview:
    :func:`attachments_hint`, which every decoded header list calls (the
    first new-mail toast too), needs none of it."""
    from email import policy
    from email.parser import BytesParser

    text = preview_text(data)
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    content_type = _split_headers(head, ("content-type",)).get("content-type", b"")
    hint = attachments_hint(content_type.decode("ascii", "replace"))
    found: list[Attachment] = []
    counter = [0]
    try:
        msg = BytesParser(policy=policy.default).parsebytes(_bounded(data))
        if msg.is_multipart():
            _walk(msg, found, counter)
        elif hint:
            name = msg.get_filename()
            if name:
                counter[0] += 1
                found.append(Attachment(clean(str(name))[:200], None))
    except Exception:
        pass
    return Preview(text, tuple(found), hint or bool(found), counter[0] - len(found))
