"""Untrusted text (server lines, mail headers) made safe for each output.

The one rule lives in :func:`traymail.pop3.visible` (the bottom layer, so
the POP3 transcript and error texts follow it too): C0 controls except TAB,
DEL, C1 controls become ``\\xNN``, bidi overrides/isolates/marks become
``<U+202E>`` -- visible, and inert in a terminal, a log line, a toast or a
Tk widget. This module adds what the engine and the desktop need on top:

* :func:`clean` -- one line (stored headers, CLI/shell output, logs, UI);
* :func:`clean_block` -- multi-line text (a preview), LF and TAB kept;
* :func:`clean_filename` -- a file-name component: controls, bidi and the
  characters Windows forbids become ``_``, DOS device names are defused
  (the byte-length cut is the caller's, see :mod:`traymail.files`);
* :func:`escape_markup` -- for a notification body when the server
  announces ``body-markup`` (Desktop Notifications spec, "Markup");
* :class:`CleanFormatter` -- a logging formatter for log files.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from .pop3 import visible
from .pop3._text import UNSAFE

__all__ = ["clean", "clean_block", "clean_filename", "escape_markup", "CleanFormatter",
           "format_size"]

_FORBIDDEN: Final = re.compile(r'[<>:"/\\|?*]')
_SPACE: Final = re.compile(r"\s+")
#: Windows device names, with or without an extension (Win32 naming rules)
_DEVICE: Final = re.compile(r"(?i)(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?")


def clean(text: str) -> str:
    """One line of untrusted text, controls and bidi shown as escapes."""
    return visible(text)


def clean_block(text: str) -> str:
    """Multi-line untrusted text: like :func:`clean`, LF and TAB kept."""
    return visible(text, newlines=True)


def clean_filename(text: str) -> str:
    """A safe file-name component (never empty, no path separators)."""
    text = UNSAFE.sub("_", text.replace("\t", " "))
    text = _FORBIDDEN.sub("_", text)
    text = _SPACE.sub(" ", text).strip(" .")
    if _DEVICE.fullmatch(text):
        text = "_" + text
    return text or "message"


def escape_markup(text: str) -> str:
    """``text`` as literal characters inside notification body markup: what
    ``html.escape(text, quote=False)`` does, without importing ``html`` and
    its entity tables (0.4 MiB in an idle app)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class CleanFormatter(logging.Formatter):
    """Formats records with controls shown as escapes (LF kept: tracebacks)."""

    def format(self, record: logging.LogRecord) -> str:
        return clean_block(super().format(record))


def format_size(octets: int) -> str:
    """1234 -> '1.2 KB' (decimal units), always English: for logs. A size a
    user reads goes through :func:`traymail.i18n.format_size` (``1,2 КБ``)."""
    size = float(octets)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover
