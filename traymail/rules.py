"""Rules: act on mail *on the server* from its headers alone (``TOP n 0``,
RFC 1939 §7), never from a body.

A rule has a name, an account (or all), conditions joined by ALL or ANY, and
actions: mark for deletion (optionally "delete without asking"), ignore (not
counted as new, no toast), important (toast even when paused) and play a
sound. The friends list wins over everything (never marked, never ignored);
the block list marks for deletion. The first matching rule wins.

Untrusted input is bounded: every tested text is cut at :data:`MAX_TESTED`
characters, and a pattern is compiled once (at most :data:`MAX_PATTERN`
long) with the ``regex`` module, whose searches take a timeout
(:data:`REGEX_TIMEOUT`): stdlib :mod:`re` has none, and even a capped text
lets ``a*a*a*b`` (polynomial) or ``(x+x+)+y`` (exponential) run for hours.
A search that times out counts as no match and is logged. No GUI, no network.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any

from .i18n import _, ngettext
from .ruleset import BLOCKED, FRIEND, RuleSet
from .settings import SettingsError, check_object

if TYPE_CHECKING:  # imported by the first regex rule (1.5 MiB an app without one never needs)
    import regex

__all__ = ["Field", "Op", "Join", "Action", "Condition", "Rule", "RuleSet", "Message",
           "Match", "FRIEND", "BLOCKED", "parse_rules", "parse_addresses", "rules_to_json",
           "message_from_head", "MAX_TESTED", "MAX_PATTERN"]

#: characters of one header tested against a condition (bounds a regex's work)
MAX_TESTED = 1000
#: the longest accepted pattern
MAX_PATTERN = 300
#: seconds one regex search may take (then: no match, logged)
REGEX_TIMEOUT = 0.05
log = logging.getLogger("traymail.rules")
#: header octets kept per message for rules (a ``TOP n 0`` reply is capped anyway)
MAX_HEAD = 64 * 1024


class Field(enum.StrEnum):
    FROM = "from"              # the From header: display name and address
    TO_CC = "to_cc"            # To and Cc
    SUBJECT = "subject"
    HEADER = "header"          # any header, by "header" name
    SIZE = "size"              # octets (LIST, RFC 1939 §5)
    ATTACHMENT = "attachment"  # multipart/mixed (or X-MS-Has-Attach: yes), from headers only


class Op(enum.StrEnum):
    CONTAINS = "contains"
    EQUALS = "equals"
    REGEX = "regex"
    OVER = "over"    # size only
    UNDER = "under"  # size only
    IS = "is"        # attachment only: value true/false


class Join(enum.StrEnum):
    ALL = "all"
    ANY = "any"


class Action(enum.StrEnum):
    MARK = "mark"            # mark for deletion (deleted with the usual confirmation)
    IGNORE = "ignore"        # not counted as new, no toast
    IMPORTANT = "important"  # a toast always, even when paused
    SOUND = "sound"          # play a sound (the rule's "sound" file or the shipped chime)


_TEXT_OPS = (Op.CONTAINS, Op.EQUALS, Op.REGEX)


@dataclass(frozen=True)
class Condition:
    field: Field
    op: Op
    value: str | int | bool
    header: str | None = None  # Field.HEADER: the header's name
    pattern: regex.Pattern[str] | None = dc_field(default=None, compare=False, repr=False)

    def test(self, msg: Message) -> bool:
        if self.field is Field.SIZE:
            assert isinstance(self.value, int)
            if msg.size is None:
                return False
            return msg.size > self.value if self.op is Op.OVER else msg.size < self.value
        if self.field is Field.ATTACHMENT:
            return msg.attachment is bool(self.value)
        if self.field is Field.HEADER:
            texts: tuple[str, ...] = (msg.headers.get((self.header or "").lower(), ""),)
        elif self.field is Field.FROM:
            texts = (msg.sender, *msg.from_addresses)
        elif self.field is Field.TO_CC:
            texts = (msg.to_cc, *msg.to_cc_addresses)
        else:
            texts = (msg.subject,)
        return any(self._test_text(t[:MAX_TESTED]) for t in texts)

    def _test_text(self, text: str) -> bool:
        want = str(self.value)
        if self.op is Op.CONTAINS:
            return want.casefold() in text.casefold()
        if self.op is Op.EQUALS:
            return want.casefold() == text.strip().casefold()
        if self.pattern is None:
            return False
        try:
            return self.pattern.search(text, timeout=REGEX_TIMEOUT) is not None
        except TimeoutError:
            log.warning("the pattern %r took too long on a %d-character text; taken as "
                        "no match", self.value, len(text))
            return False


@dataclass(frozen=True)
class Rule:
    name: str
    conditions: tuple[Condition, ...]
    actions: frozenset[Action]
    account: str | None = None  # None: every account
    join: Join = Join.ALL
    #: with MARK: delete in the next session, after its UIDL re-check, without asking
    delete_without_asking: bool = False
    #: with SOUND: a WAV file; None: the shipped chime
    sound: str | None = None

    def matches(self, account: str, msg: Message) -> bool:
        if self.account is not None and self.account != account:
            return False
        results = (c.test(msg) for c in self.conditions)
        return all(results) if self.join is Join.ALL else any(results)


@dataclass(frozen=True)
class Message:
    """What rules see of one message (all decoded, cleaned, bounded)."""

    sender: str = ""
    from_addresses: tuple[str, ...] = ()
    to_cc: str = ""
    to_cc_addresses: tuple[str, ...] = ()
    subject: str = ""
    size: int | None = None
    attachment: bool = False
    #: every header named by a rule, lower-case name -> text
    headers: Mapping[str, str] = dc_field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    """The rule that matched a message (``rule`` is its name, or FRIEND/BLOCKED)."""

    rule: str
    actions: frozenset[Action]
    delete_without_asking: bool = False
    sound: str | None = None


def message_from_head(head: bytes, size: int | None, names: Sequence[str]) -> Message:
    """Decode a header block (RFC 5322 §2.2) for the rules; never raises."""
    # the same linear, bounded header decoding (imported here: a check without
    # rules never loads the decoder)
    from .decode import _split_headers, _text

    raw = _split_headers(head[:MAX_HEAD], tuple(names))
    m = re.search(r'charset\s*=\s*"?([\w.:-]{1,40})',
                  raw.get("content-type", b"").decode("ascii", "replace"), re.I)
    hint = m.group(1) if m else None
    text = {k: _text(v, hint) for k, v in raw.items()}
    ctype = text.get("content-type", "").lower()
    attachment = (ctype.startswith("multipart/mixed")
                  or text.get("x-ms-has-attach", "").strip().lower() == "yes")
    to_cc = ", ".join(t for t in (text.get("to", ""), text.get("cc", "")) if t)
    return Message(sender=text.get("from", ""), from_addresses=_addresses(text.get("from", "")),
                   to_cc=to_cc, to_cc_addresses=_addresses(to_cc),
                   subject=text.get("subject", ""), size=size, attachment=attachment,
                   headers=text)


def _addresses(text: str) -> tuple[str, ...]:
    try:
        from email.utils import getaddresses  # the email package: not before a message is tested

        pairs = getaddresses([text[:MAX_TESTED * 4]])
    except Exception:  # a malformed header: no addresses, the text still counts
        return ()
    return tuple(a for _, a in pairs if "@" in a)


# -- settings ---------------------------------------------------------------------

def _regex(value: object, where: str) -> regex.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise SettingsError(where, _("must be a non-empty regular expression"))
    if len(value) > MAX_PATTERN:
        raise SettingsError(where, ngettext("is longer than {n} character",
                                                "is longer than {n} characters",
                                                MAX_PATTERN).format(n=MAX_PATTERN))
    import regex

    try:  # V0: the syntax of Python's re
        return regex.compile(value, regex.IGNORECASE | regex.V0)
    except regex.error as exc:
        raise SettingsError(where, _("is not a valid regular expression: {error}").format(
            error=exc)) from None


def _condition(data: object, where: str) -> Condition:
    data = check_object(data, where, {"field", "op", "value", "header"})
    try:
        fld = Field(str(data.get("field")))
    except ValueError:
        raise SettingsError(f"{where}.field", _("must be one of {choices}").format(
            choices=", ".join(f'"{f.value}"' for f in Field))) from None
    value = data.get("value")
    header = None
    if fld is Field.SIZE:
        op = Op(data.get("op", "over")) if data.get("op", "over") in ("over", "under") else None
        if op is None:
            raise SettingsError(f"{where}.op", _('must be "over" or "under" for a size'))
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SettingsError(f"{where}.value", _("must be a size in octets (a whole number)"))
        return Condition(fld, op, value)
    if fld is Field.ATTACHMENT:
        if data.get("op", "is") != "is":
            raise SettingsError(f"{where}.op", _('must be "is" for an attachment'))
        if not isinstance(value, bool):
            raise SettingsError(f"{where}.value", _("must be true or false"))
        return Condition(fld, Op.IS, value)
    if fld is Field.HEADER:
        header = data.get("header")
        if not isinstance(header, str) or not re.fullmatch(r"[!-9;-~]{1,76}", header):
            raise SettingsError(f"{where}.header", _("must be a header name like List-Id"))
    op_text = data.get("op", "contains")
    if op_text not in [o.value for o in _TEXT_OPS]:
        raise SettingsError(f"{where}.op", _('must be "contains", "equals" or "regex"'))
    op = Op(op_text)
    if not isinstance(value, str) or not value:
        raise SettingsError(f"{where}.value", _("must be a non-empty text"))
    pattern = _regex(value, f"{where}.value") if op is Op.REGEX else None
    return Condition(fld, op, value, header, pattern)


_RULE_FIELDS = {"name", "account", "match", "conditions", "actions", "delete_without_asking",
                "sound"}


def _rule(data: object, where: str) -> Rule:
    data = check_object(data, where, _RULE_FIELDS)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise SettingsError(f"{where}.name", _("must be a non-empty text (at most 100 characters)"))
    where = f'{where} ("{name.strip()}")'
    account = data.get("account")
    if account is not None and (not isinstance(account, str) or not account.strip()):
        raise SettingsError(f"{where}.account", _("must be an account name or null (all)"))
    try:
        join = Join(data.get("match", "all"))
    except ValueError:
        raise SettingsError(f"{where}.match", _('must be "all" or "any"')) from None
    raw = data.get("conditions")
    if not isinstance(raw, list) or not raw:
        raise SettingsError(f"{where}.conditions", _("must be a non-empty list"))
    conditions = tuple(_condition(c, f"{where}.conditions[{i}]") for i, c in enumerate(raw))
    acts = data.get("actions")
    if not isinstance(acts, list) or not acts:
        raise SettingsError(f"{where}.actions", _("must be a non-empty list of {choices}").format(
            choices=", ".join(f'"{a.value}"' for a in Action)))
    try:
        actions = frozenset(Action(a) for a in acts)
    except ValueError:
        raise SettingsError(f"{where}.actions", _("each must be one of {choices}").format(
            choices=", ".join(f'"{a.value}"' for a in Action))) from None
    if Action.MARK in actions and Action.IGNORE in actions:
        pass  # both is fine: marked for deletion and not announced
    dwa = data.get("delete_without_asking", False)
    if not isinstance(dwa, bool):
        raise SettingsError(f"{where}.delete_without_asking", _("must be true or false"))
    if dwa and Action.MARK not in actions:
        raise SettingsError(f"{where}.delete_without_asking", _('needs the "mark" action'))
    sound = data.get("sound")
    if sound is not None and (not isinstance(sound, str) or not sound.strip()):
        raise SettingsError(f"{where}.sound", _("must be the path of a .wav file or null"))
    return Rule(name.strip(), conditions, actions, account.strip() if account else None,
                join, dwa, sound)


def parse_addresses(data: object, where: str) -> tuple[str, ...]:
    """A friends/block list: addresses (``a@b.c``) or domains (``@b.c``)."""
    if not isinstance(data, list):
        raise SettingsError(where, _("must be a list of addresses or @domains"))
    out = []
    for i, entry in enumerate(data):
        if (not isinstance(entry, str) or not entry.strip() or entry.count("@") > 1
                or any(c.isspace() or ord(c) < 32 for c in entry.strip())):
            raise SettingsError(f"{where}[{i}]", _("must be an address (name@example.com) or "
                                                   "a domain (@example.com)"))
        out.append(entry.strip())
    return tuple(out)


def parse_rules(data: Mapping[str, Any], account_names: Sequence[str]) -> RuleSet:
    """``rules``, ``friends`` and ``blocked`` of a settings document."""
    raw = data.get("rules", [])
    if not isinstance(raw, list):
        raise SettingsError("rules", _("must be a list"))
    rules = tuple(_rule(r, f"rules[{i}]") for i, r in enumerate(raw))
    names = [r.name for r in rules]
    for i, r in enumerate(rules):
        if names.count(r.name) > 1:
            raise SettingsError(f"rules[{i}].name", _("two rules are named {name}").format(
                name=repr(r.name)))
        if r.account is not None and r.account not in account_names:
            raise SettingsError(f'rules[{i}] ("{r.name}").account',
                                _("no account named {name}").format(name=repr(r.account)))
    return RuleSet(rules, parse_addresses(data.get("friends", []), "friends"),
                   parse_addresses(data.get("blocked", []), "blocked"))


def _condition_json(c: Condition) -> dict[str, Any]:
    d: dict[str, Any] = {"field": c.field.value, "op": c.op.value, "value": c.value}
    if c.header is not None:
        d["header"] = c.header
    return d


def rules_to_json(rs: RuleSet) -> dict[str, Any]:
    rules = []
    for r in rs.rules:
        d: dict[str, Any] = {"name": r.name, "account": r.account, "match": r.join.value,
                             "conditions": [_condition_json(c) for c in r.conditions],
                             "actions": [a.value for a in Action if a in r.actions]}
        if r.delete_without_asking:
            d["delete_without_asking"] = True
        if r.sound is not None:
            d["sound"] = r.sound
        rules.append(d)
    return {"rules": rules, "friends": list(rs.friends), "blocked": list(rs.blocked)}
