"""The POP3 client's states, limits and per-state command rules, as data.

RFC 1939 §3-§7 (states and commands), RFC 2449 §4-§6 (limits, CAPA,
pipelining), RFC 2595 §4 (STLS), RFC 5034 §4 (the SASL sub-exchange).
:class:`~traymail.pop3._connection.Connection` applies them.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "State",
    "Shape",
    "MAX_STATUS_LINE",
    "MAX_COMMAND",
    "MAX_TOP",
    "LISTING_SLACK",
    "MAX_LISTING",
    "MAX_UIDL_LINE",
    "MAX_CAPA_LINES",
    "oversize_limit",
    "ALLOWED",
    "STATEFUL",
    "SHAPES",
    "SECRET_ARGS",
    "SASL_TRANSITIONS",
]


class State(enum.Enum):
    GREETING = "greeting"
    AUTHORIZATION = "authorization"
    TLS_PENDING = "tls-pending"
    AUTH_CONTINUE = "auth-continue"  # a SASL challenge awaits the client's response
    TRANSACTION = "transaction"
    UPDATE = "update"
    CLOSED = "closed"
    ERROR = "error"


class Shape(enum.Enum):
    """What follows a +OK status line."""

    SINGLE = "single"   # nothing
    LINES = "lines"     # short lines (CAPA, LIST, UIDL) -> DataLine
    BODY = "body"       # a message (RETR, TOP) -> DataChunk


#: RFC 2449 §4 limits responses to 512 octets; we allow far more, but not
#: unbounded (mpop uses 8 KiB).
MAX_STATUS_LINE: Final = 8192
#: RFC 2449 §4: a command line is at most 255 octets including CRLF.
MAX_COMMAND: Final = 255
#: a TOP reply keeps this many octets; the rest is read and dropped
MAX_TOP: Final = 256 * 1024
#: lines a LIST/UIDL listing may have beyond STAT's message count
LISTING_SLACK: Final = 16
#: lines of a LIST/UIDL listing when no STAT count is known
MAX_LISTING: Final = 500_000
#: RFC 1939 §7: "n uid", the uid 1-70 octets; extra spaces tolerated
MAX_UIDL_LINE: Final = 160
#: lines of a CAPA reply (RFC 2449 §5 defines a dozen capabilities)
MAX_CAPA_LINES: Final = 1000


def oversize_limit(size: int) -> int:
    """The most octets a body may have when LIST said ``size`` (RFC 1939 §5
    sizes may differ by line-end conventions; this is far beyond that)."""
    return max(2 * size, size + 1024 * 1024)


# -- the rules as data -----------------------------------------------------
#: commands allowed in each state (RFC 1939 §4-§7, RFC 2449 §5, RFC 2595 §4)
ALLOWED: Final[dict[State, frozenset[str]]] = {
    State.AUTHORIZATION: frozenset(
        {"USER", "PASS", "APOP", "AUTH", "CAPA", "STLS", "QUIT"}
    ),
    State.TRANSACTION: frozenset(
        {"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL", "CAPA", "QUIT"}
    ),
}
#: commands whose reply changes the state: never pipelined
STATEFUL: Final = frozenset({"USER", "PASS", "APOP", "AUTH", "STLS", "QUIT"})
#: reply shape per command; LIST/UIDL with an argument are single-line
SHAPES: Final[dict[str, Shape]] = {
    "CAPA": Shape.LINES,
    "LIST": Shape.LINES,
    "UIDL": Shape.LINES,
    "RETR": Shape.BODY,
    "TOP": Shape.BODY,
}
#: commands whose argument is secret in a transcript
SECRET_ARGS: Final = frozenset({"PASS", "APOP", "AUTH"})
#: the SASL sub-exchange of AUTH (RFC 5034 §4) as (state, what happened) -> state
SASL_TRANSITIONS: Final[dict[tuple[State, str], State]] = {
    (State.AUTHORIZATION, "challenge"): State.AUTH_CONTINUE,  # "+ base64" from the server
    (State.AUTH_CONTINUE, "response"): State.AUTHORIZATION,   # base64 line from the client
    (State.AUTH_CONTINUE, "cancel"): State.AUTHORIZATION,     # "*": the server ends with -ERR
}
