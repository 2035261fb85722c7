"""Making untrusted text safe to show: the one rule for every output.

Text from a server or a mail may hold terminal controls (ESC sequences that
clear the screen or retitle the window, BEL, a CR that rewrites a log line)
or Unicode bidi controls that reorder what a reader sees ("Trojan Source",
CVE-2021-42574). :func:`visible` replaces each such character with a visible
escape, so it can be noticed and never acts:

* C0 controls except TAB (U+0000-U+001F), DEL (U+007F) and C1 controls
  (U+0080-U+009F) -> ``\\xNN`` (as Python's ``repr`` writes them);
* bidi embeddings/overrides/isolates and marks (U+202A-U+202E,
  U+2066-U+2069, U+200E, U+200F, U+061C) and the line/paragraph separators
  U+2028/U+2029 -> ``<U+202E>``.

This module sits in ``traymail.pop3`` (the bottom layer) so that the POP3
transcript and error texts use the same rule; the engine's helpers
(:mod:`traymail.text`) build on it.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["visible", "UNSAFE"]

_BIDI: Final = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
#: every character :func:`visible` replaces, TAB excepted (``keep`` adds more)
UNSAFE: Final = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_BIDI}]")
_UNSAFE_KEEP_LF: Final = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")


def _shown(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"<U+{c:04X}>"


def visible(text: str, *, newlines: bool = False) -> str:
    """``text`` with controls and bidi overrides shown as escapes.

    TAB is kept; LF too when ``newlines`` (multi-line text such as a preview).
    Linear in the length of ``text``; returns ``text`` itself when clean.
    """
    pattern = _UNSAFE_KEEP_LF if newlines else UNSAFE
    if pattern.search(text) is None:
        return text
    return pattern.sub(_shown, text)
