"""Message identity for a session: UIDL (RFC 1939 §7), or -- for a server
without it -- a weaker identity from size + Message-ID (``TOP n 0``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from .i18n import _
from .pop3 import POP3, CapabilityError, ServerError
from .store import Store

__all__ = ["uid_list", "sync_listing"]


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
        raise CapabilityError(_("the server has neither UIDL nor TOP; traymail cannot "
                                "tell messages apart safely")) from exc
    return out


def sync_listing(pop: POP3, store: Store, account: str, ids: list[tuple[int, str]]
                 ) -> list[str]:
    """Bring the state to this session's listing (LIST only for unknown
    sizes); nothing to do when it is the listing synced last (its digest)."""
    uids = [uid for _, uid in ids]
    digest = hashlib.sha256("\n".join(uids).encode("utf-8", "surrogatepass")).hexdigest()
    if store.listing_digest(account) != digest and store.sync_listing(account, uids, digest):
        by_number = pop.list_sizes()
        store.sync_uids(account, {u: by_number.get(n) for n, u in ids})
        store.sync_listing(account, uids, digest)  # the sizes are known now
    return uids
