"""Message identity for a session: UIDL (RFC 1939 §7), or -- for a server
without it -- a weaker identity from size + Message-ID (``TOP n 0``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from .pop3 import POP3, CapabilityError, ServerError

__all__ = ["uid_list"]


def uid_list(pop: POP3, note: Callable[[str], None],
             warn: Callable[[], None]) -> list[tuple[int, str]]:
    """(number, uid) for every message, from a UIDL in *this* session.

    Without UIDL the identity falls back to size + Message-ID (from TOP),
    which is weaker: two copies of one message look alike. Said in the
    transcript (``note``) and once in the log (``warn``)."""
    caps = pop.capabilities
    try:
        return [(u.number, u.uid) for u in pop.uidl()]
    except ServerError:
        if caps is not None and caps.has("UIDL"):
            raise
    warn()
    note("server has no UIDL: messages are identified by size + Message-ID (weaker)")
    from .decode import parse_headers

    sizes = {s.number: s.size for s in pop.list()}
    out: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    try:
        for n, data in pop.top_many(sorted(sizes), 0):
            mid = parse_headers("", None, data).message_id or hashlib.sha256(data).hexdigest()
            key = "~" + hashlib.sha256(f"{sizes[n]}:{mid}".encode()).hexdigest()[:24]
            seen[key] = seen.get(key, 0) + 1
            out.append((n, key if seen[key] == 1 else f"{key}#{seen[key]}"))
    except ServerError as exc:
        raise CapabilityError("the server has neither UIDL nor TOP; traymail cannot "
                              "tell messages apart safely") from exc
    return out
