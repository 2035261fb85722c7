"""The rule set the settings and each mailbox hold; the rules themselves are
:mod:`traymail.rules`. A module of its own so that a check with no rules set
never imports the rules (their enums and dataclasses are ~5 ms of a console
call): what is below needs them only once there is a rule or a list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .rules import Match, Message, Rule

__all__ = ["RuleSet", "FRIEND", "BLOCKED"]

#: the names of the reserved friend/block "rules" in matches and logs
FRIEND, BLOCKED = "friends list", "block list"


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    friends: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules or self.friends or self.blocked)

    def applies_to(self, account: str) -> bool:
        return bool(self.friends or self.blocked
                    or any(r.account in (None, account) for r in self.rules))

    def header_names(self) -> tuple[str, ...]:
        """The headers rules need: the usual ones and every header a rule names."""
        from .rules import Field

        names = {"from", "to", "cc", "subject", "content-type", "x-ms-has-attach"}
        names.update((c.header or "").lower() for r in self.rules for c in r.conditions
                     if c.field is Field.HEADER)
        return tuple(sorted(n for n in names if n))

    def evaluate(self, account: str, msg: Message) -> Match | None:
        """The first match: the friends list, then the block list, then the rules in order."""
        from .rules import Action, Match

        if any(_listed(a, self.friends) for a in msg.from_addresses):
            return Match(FRIEND, frozenset())
        if any(_listed(a, self.blocked) for a in msg.from_addresses):
            return Match(BLOCKED, frozenset({Action.MARK}))
        for rule in self.rules:
            if rule.matches(account, msg):
                return Match(rule.name, rule.actions, rule.delete_without_asking, rule.sound)
        return None

    def named(self, name: str | None) -> Match | None:
        """The match a stored rule name stands for (None: no rule, or one since removed)."""
        from .rules import Action, Match

        if name == FRIEND:
            return Match(FRIEND, frozenset())
        if name == BLOCKED:
            return Match(BLOCKED, frozenset({Action.MARK}))
        for rule in self.rules:
            if rule.name == name:
                return Match(rule.name, rule.actions, rule.delete_without_asking, rule.sound)
        return None

    def fingerprint(self) -> str:
        """Changes whenever a rule or list does (stored results are then redone)."""
        import hashlib
        import json

        from .rules import rules_to_json

        text = json.dumps(rules_to_json(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _listed(address: str, entries: Sequence[str]) -> bool:
    """``name@host`` matches itself; ``@host`` (or ``host``) matches the domain."""
    a = address.casefold()
    for e in entries:
        e = e.casefold()
        if a == e or (e.startswith("@") and a.endswith(e)) or ("@" not in e and
                                                             a.endswith("@" + e)):
            return True
    return False
