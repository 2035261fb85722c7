"""``traymail rules test``: which rule matches which message on the server,
without acting (nothing marked, deleted or announced)."""

from __future__ import annotations

import json

from .i18n import _, ngettext
from .mailbox import Mailbox
from .rules import Action
from .ruling import test_rules
from .text import clean

__all__ = ["rules_test"]


def rules_test(mb: Mailbox, *, json_out: bool = False) -> int:
    rows = test_rules(mb)
    if json_out:
        print(json.dumps([{"uid": uid, "number": n, "from": sender, "subject": subject,
                           "rule": m.rule if m else None,
                           "actions": [a.value for a in Action if m and a in m.actions]}
                          for uid, n, sender, subject, m in rows],
                         ensure_ascii=False, indent=2))
        return 0
    if not mb.rules.applies_to(mb.name):
        print(_("{account}: no rule, friend or blocked sender applies to this account")
              .format(account=clean(mb.name)))
    for uid, n, sender, subject, m in rows:
        if m is None:
            verdict = _("no rule")
        else:
            acts = ", ".join(a.value for a in Action if a in m.actions)
            verdict = f"{clean(m.rule)}: " + (acts or _("never marked or ignored"))
        print(f"{n:>4} {sender[:30]:30} {subject[:40]:40} -> {verdict}  {uid}")
    matched = sum(1 for r in rows if r[4] is not None)
    # TRANSLATORS: the count is {n}, the messages on the server ("2 of 3 messages")
    print(ngettext("{matched} of {n} message matches a rule (nothing was changed)",
                   "{matched} of {n} messages match a rule (nothing was changed)",
                   len(rows)).format(matched=matched, n=len(rows)))
    return 0
