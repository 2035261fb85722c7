"""Rules at work in the engine: fetch header blocks (``TOP n 0``, RFC 1939
§7 -- never a body), evaluate them once per message and rule set, store the
result, mark for deletion, and write a "rule log" line to the transcript
(the log window shows it). No GUI imports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .decode import parse_headers
from .pop3 import POP3
from .rules import MAX_HEAD, Action, Match, RuleSet, message_from_head
from .session import MailboxError
from .text import clean

if TYPE_CHECKING:
    from .mailbox import Mailbox

log = logging.getLogger("traymail.mailbox")  # its rule log lines, as before

__all__ = ["RuleOutcome", "fetch_heads", "apply_rules", "delete_without_asking", "test_rules"]


@dataclass(frozen=True)
class RuleOutcome:
    """What the rules did to the messages of one check."""

    matches: dict[str, Match]
    ignored: frozenset[str] = frozenset()
    important: frozenset[str] = frozenset()
    #: marked by a rule that deletes without asking
    delete_now: tuple[str, ...] = ()

    def sound_for(self, uids: tuple[str, ...], account_sound: str | None) -> str | None:
        """The first arrived message's rule sound, else the account's (None: silent)."""
        for uid in uids:
            m = self.matches.get(uid)
            if m is not None and Action.SOUND in m.actions:
                return m.sound or "default"
        return account_sound if uids else None


def fetch_heads(mb: Mailbox, pop: POP3, ids: list[tuple[int, str]],
                sizes: dict[str, int | None]) -> None:
    """``TOP n 0`` for each message without a stored header block, in this
    session; the header cache is filled on the way (no second TOP)."""
    have = mb.store.head_uids(mb.name)
    missing = [(n, uid) for n, uid in ids if uid not in have]
    if not missing:
        return
    caps = pop.capabilities
    if caps is not None and caps.supported and not caps.has("TOP"):
        # never a RETR: the rules see nothing here, the check goes on
        mb._note("rule log: the server does not support TOP, so rules cannot see the "
                 "headers without downloading the messages; no rule applies")
        return
    by_number = dict(missing)
    heads: dict[str, bytes] = {}
    parsed = []
    for n, data in pop.top_many([n for n, _ in missing], 0):
        uid = by_number[n]
        head = bytes(data)[:MAX_HEAD]
        heads[uid] = head
        parsed.append(parse_headers(uid, sizes.get(uid), head))
        if len(heads) >= 500:
            mb.store.put_heads(mb.name, heads)
            mb.store.put_headers(mb.name, parsed)
            heads, parsed = {}, []
    mb.store.put_heads(mb.name, heads)
    mb.store.put_headers(mb.name, parsed)


def _evaluate(rules: RuleSet, account: str, heads: dict[str, bytes],
              sizes: dict[str, int | None], uids: list[str]) -> dict[str, Match | None]:
    names = rules.header_names()
    return {uid: rules.evaluate(account, message_from_head(heads[uid], sizes.get(uid), names))
            for uid in uids if uid in heads}


def apply_rules(mb: Mailbox, uids: list[str], sizes: dict[str, int | None]) -> RuleOutcome:
    """Evaluate the messages not yet evaluated under the current rules; a new
    match is written to the rule log and, with "mark", marked for deletion
    (once: a mark the user took off stays off). Returns every message's match."""
    rules: RuleSet = mb.rules
    fp = rules.fingerprint()
    stored = mb.store.rule_results(mb.name)
    todo = [u for u in uids if stored.get(u, ("", None))[0] != fp]
    heads = mb.store.heads(mb.name) if todo else {}
    fresh = _evaluate(rules, mb.name, heads, sizes, todo)
    if fresh:
        mb.store.put_rule_results(mb.name, {u: (fp, m.rule if m else None)
                                            for u, m in fresh.items()})
    cache = mb.store.headers(mb.name)
    to_mark: dict[str, int | None] = {}
    delete_now: list[str] = []
    for uid, m in fresh.items():
        if m is None:
            continue
        h = cache.get(uid)
        what = (f"From: {clean(h.sender)[:80]}, Subject: {clean(h.subject)[:80]}"
                if h is not None else "")
        acts = ", ".join(a.value for a in Action if a in m.actions) or "never marked or ignored"
        mb._note(f"rule log: {clean(m.rule)!r} matched message {uid} ({what}): {acts}")
        if Action.MARK in m.actions:
            to_mark[uid] = sizes.get(uid)
            if m.delete_without_asking:
                delete_now.append(uid)
    if to_mark:
        mb.store.mark(mb.name, to_mark)
    # every message's match: the earlier ones from their stored rule name
    matches: dict[str, Match] = {}
    for u in uids:
        m = fresh[u] if u in fresh else rules.named(stored.get(u, ("", None))[1])
        if m is not None:
            matches[u] = m
    return RuleOutcome(
        matches,
        frozenset(u for u, m in matches.items() if Action.IGNORE in m.actions),
        frozenset(u for u, m in matches.items() if Action.IMPORTANT in m.actions),
        tuple(delete_now))


def delete_without_asking(mb: Mailbox, uids: list[str]) -> None:
    """A rule's "delete without asking": the usual path (a new session, its
    UIDL re-check, the recorded size), logged."""
    mb._note(f"rule log: deleting {len(uids)} message{'s' if len(uids) != 1 else ''} "
             "without asking")
    try:
        report = mb.delete_marked(only=uids)
    except MailboxError as exc:
        mb._note(f"rule log: the deletion failed, the marks stay: {exc}")
        log.warning("%s: rule deletion failed: %s", mb.name, exc)
        return
    mb._note(f"rule log: deleted {len(report.deleted)}, gone {len(report.gone)}, "
             f"not deleted {len(report.failed)}")
    log.info("%s: a rule deleted %d message%s without asking", mb.name,
             len(report.deleted), "" if len(report.deleted) == 1 else "s")


def test_rules(mb: Mailbox) -> list[tuple[str, int, str, str, Match | None]]:
    """(uid, number, sender, subject, match) of every message on the server,
    without acting: nothing is marked, nothing announced (header blocks are
    cached like the window's headers)."""
    with mb._session() as pop:
        _, ids, size_of = mb._scan(pop)
        sizes: dict[str, int | None] = {uid: size_of.get(n) for n, uid in ids}
        mb.store.sync_uids(mb.name, sizes)
        fetch_heads(mb, pop, ids, sizes)
    heads = mb.store.heads(mb.name)
    cache = mb.store.headers(mb.name)
    found = _evaluate(mb.rules, mb.name, heads, sizes, [u for _, u in ids])
    out = []
    for n, uid in ids:
        h = cache.get(uid)
        out.append((uid, n, clean(h.sender) if h else "", clean(h.subject) if h else "",
                    found.get(uid)))
    return out
