"""The events :meth:`~traymail.pop3._connection.Connection.next_event` returns.

A reply is a :class:`Status`, then for multi-line replies :class:`DataLine`
or :class:`DataLines` (CAPA, LIST, UIDL) or :class:`DataChunk` (RETR, TOP)
events, then :class:`EndOfData` (RFC 1939 §3); :class:`Challenge` is a SASL
challenge (RFC 5034 §4); :data:`NEED_DATA` asks for more bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ._replies import Reply

__all__ = [
    "Status",
    "DataLine",
    "DataLines",
    "DataChunk",
    "EndOfData",
    "ConnectionClosed",
    "Challenge",
    "NEED_DATA",
    "NeedData",
    "Event",
]


@dataclass(frozen=True, slots=True)
class Status:
    """The status line answering ``command`` (``"GREETING"`` for the banner)."""

    command: str
    reply: Reply
    raw: bytes


@dataclass(frozen=True, slots=True)
class DataLine:
    """One line of a CAPA/LIST/UIDL listing, dot-stuffing removed."""

    line: bytes


@dataclass(frozen=True, slots=True)
class DataLines:
    """Several lines of a listing at once (``bulk_lines``), dot-stuffing removed."""

    lines: tuple[bytes, ...]
    octets: int


@dataclass(frozen=True, slots=True)
class DataChunk:
    """A piece of a RETR/TOP body: CRLF line ends, dot-stuffing removed."""

    data: bytes


@dataclass(frozen=True, slots=True)
class EndOfData:
    """The terminating ``.`` of a multi-line reply."""

    command: str
    lines: int
    octets: int
    #: TOP only: octets beyond ``max_top`` were dropped
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The server closed the connection with nothing outstanding."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """A SASL server challenge (RFC 5034 §4), base64-decoded; answer it next."""

    data: bytes
    raw: bytes


class NeedData:
    """Sentinel type: feed more bytes before asking again."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()

Event = Status | DataLine | DataLines | DataChunk | EndOfData | ConnectionClosed | Challenge
