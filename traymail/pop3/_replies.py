"""Typed results and their parsers (RFC 1939 §5, RFC 2449 §5-§6).

Parsers take the decoded text the server sent and raise
RemoteProtocolError when it does not fit the grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ._errors import RemoteProtocolError
from ._text import UNSAFE, visible

__all__ = [
    "Reply",
    "Stat",
    "ScanListing",
    "UniqueId",
    "TopReply",
    "Capabilities",
    "parse_status_line",
    "parse_stat",
    "parse_scan_listing",
    "parse_unique_id",
    "parse_capabilities",
    "apop_timestamp",
]

_CODE = re.compile(r"\[([^\]\s]{1,64})\]\s?")
# RFC 1939 §7: the timestamp is a msg-id, "<process-ID.clock@hostname>".
_TIMESTAMP = re.compile(r"<[^<>\s@]{1,200}@[^<>\s@]{1,200}>")
#: RFC 1939 §7: a unique-id is 1 to 70 characters
MAX_UID = 70


@dataclass(frozen=True, slots=True)
class Reply:
    """One status line: ``+OK``/``-ERR``, the response code and the text."""

    ok: bool
    text: str
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Stat:
    """STAT result (RFC 1939 §5): message count and maildrop size in octets."""

    count: int
    size: int


@dataclass(frozen=True, slots=True)
class ScanListing:
    """One LIST entry (RFC 1939 §5): message number and size in octets."""

    number: int
    size: int


@dataclass(frozen=True, slots=True)
class UniqueId:
    """One UIDL entry (RFC 1939 §7): message number and unique id."""

    number: int
    uid: str


class TopReply(bytes):
    """A TOP reply (RFC 1939 §7): the bytes kept, and ``truncated`` when the
    server sent more than the client's cap (the rest was read and dropped)."""

    truncated: bool = False

    def __new__(cls, data: bytes, truncated: bool = False) -> TopReply:
        self = super().__new__(cls, data)
        self.truncated = truncated
        return self


@dataclass(frozen=True, slots=True)
class Capabilities:
    """CAPA result (RFC 2449 §5). ``supported`` is False when CAPA got -ERR."""

    entries: dict[str, tuple[str, ...]] = field(default_factory=dict)
    supported: bool = True

    def has(self, name: str) -> bool:
        return name.upper() in self.entries

    def args(self, name: str) -> tuple[str, ...]:
        return self.entries.get(name.upper(), ())

    @property
    def pipelining(self) -> bool:
        return "PIPELINING" in self.entries

    @property
    def stls(self) -> bool:
        return "STLS" in self.entries

    @property
    def sasl(self) -> tuple[str, ...]:
        return tuple(m.upper() for m in self.args("SASL"))

    @property
    def login_delay(self) -> int | None:
        """Minimum seconds between logins (RFC 2449 §6.5), if announced."""
        for arg in self.args("LOGIN-DELAY"):
            if arg.isdecimal():
                return int(arg)
        return None


def parse_status_line(line: bytes) -> Reply:
    """Split ``+OK text`` / ``-ERR [CODE] text`` (RFC 2449 §8). Controls in
    the text are shown as escapes (it reaches error messages and logs)."""
    text = visible(line.decode("utf-8", "replace"))
    if text.startswith("+OK"):
        return Reply(True, text[3:].strip())
    if text.startswith("-ERR"):
        rest = text[4:].strip()
        code: str | None = None
        m = _CODE.match(rest)
        if m:
            code = m.group(1).upper()
            rest = rest[m.end():]
        return Reply(False, rest, code)
    shown = text[:40].encode("unicode_escape").decode("ascii")
    raise RemoteProtocolError(f"status line starts with neither +OK nor -ERR: {shown!r}")


def _two_numbers(text: str, what: str) -> tuple[int, int]:
    parts = text.split()
    if len(parts) < 2 or not parts[0].isdecimal() or not parts[1].isdecimal():
        raise RemoteProtocolError(f"malformed {what}: {text[:60]!r}")
    return int(parts[0]), int(parts[1])


def parse_stat(text: str) -> Stat:
    return Stat(*_two_numbers(text, "STAT reply"))


def parse_scan_listing(text: str) -> ScanListing:
    number, size = _two_numbers(text, "scan listing")
    if number < 1:
        raise RemoteProtocolError(f"message number out of range: {number}")
    return ScanListing(number, size)


def parse_unique_id(text: str) -> UniqueId:
    """Parse ``n uid``. Lenient like mpop: extra spaces are tolerated and any
    printable characters are kept; control and bidi characters are refused,
    and so is a uid longer than 70 octets (RFC 1939 §7)."""
    parts = text.split(None, 1)
    if len(parts) != 2 or not parts[0].isdecimal() or int(parts[0]) < 1:
        raise RemoteProtocolError(f"malformed unique-id listing: {text[:60]!r}")
    uid = parts[1].strip()
    if not uid or visible(uid) != uid:
        raise RemoteProtocolError("unique id is empty or has control characters")
    if len(uid.encode("utf-8")) > MAX_UID:
        raise RemoteProtocolError(f"unique id longer than {MAX_UID} octets (RFC 1939 §7)")
    return UniqueId(int(parts[0]), uid)


#: the common UIDL line: digits, blanks, one word (anything else: parse_unique_id)
_UIDL_LINE = re.compile(rf"^[ \t]*(0*[1-9][0-9]*)[ \t]+(\S{{1,{MAX_UID}}})[ \t]*$", re.M)


def unique_id_pairs(listing: tuple[str, int]) -> list[tuple[int, str]]:
    """A whole UIDL listing -- (its lines joined by LF, how many) -- as
    (number, uid) pairs, exactly as :func:`parse_unique_id` reads each line,
    but in a few passes over the whole text (a 100,000-line listing).
    Whenever the fast reading is in any doubt, every line goes through
    :func:`parse_unique_id` (which raises the precise error)."""
    text, count = listing
    if UNSAFE.search(text.replace("\n", " ")) is None:
        pairs = [(int(m[1]), m[2]) for m in _UIDL_LINE.finditer(text)]
        # numbers >= 1 and at most MAX_UID characters: the pattern; octets:
        if len(pairs) == count and (text.isascii() or all(
                len(u.encode("utf-8")) <= MAX_UID for _, u in pairs)):
            return pairs
    lines = text.split("\n") if count else []
    return [(u.number, u.uid) for u in map(parse_unique_id, lines)]


_LIST_LINE = re.compile(r"^[ \t]*(0*[1-9][0-9]*)[ \t]+([0-9]+)(?:[ \t][^\n]*)?$", re.M)


def scan_sizes(listing: tuple[str, int]) -> dict[int, int]:
    """A whole LIST listing -- (its lines joined by LF, how many) -- as
    {number: size}, exactly as :func:`parse_scan_listing` reads each line
    (which reads every line whenever the fast pass is in doubt)."""
    text, count = listing
    sizes = {int(m[1]): int(m[2]) for m in _LIST_LINE.finditer(text)}
    if len(sizes) == count:  # every line matched, no number twice
        return sizes
    found = [parse_scan_listing(line) for line in (text.split("\n") if count else [])]
    return {s.number: s.size for s in found}


def parse_unique_ids(listing: tuple[str, int]) -> list[UniqueId]:
    """A whole UIDL listing (:func:`unique_id_pairs`) as UniqueId entries."""
    return [UniqueId(n, u) for n, u in unique_id_pairs(listing)]


def parse_capabilities(lines: list[str]) -> Capabilities:
    entries: dict[str, tuple[str, ...]] = {}
    for line in lines:
        words = line.split()
        if words:
            entries[words[0].upper()] = tuple(words[1:])
    return Capabilities(entries)


def apop_timestamp(greeting: str) -> str | None:
    """The APOP timestamp of a greeting (RFC 1939 §7), or None."""
    m = _TIMESTAMP.search(greeting)
    return m.group(0) if m else None
