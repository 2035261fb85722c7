"""Fuzz targets: the sans-IO core and header decoding.

Each target takes arbitrary bytes and must either work or raise a POP3Error
subclass -- nothing else escapes -- and must never buffer more than a bounded
amount of a line that never ends.

    python scripts/fuzz.py --examples 100000      (the dedicated run)
"""

from __future__ import annotations

from traymail.decode import parse_headers, preview_text
from traymail.pop3 import POP3Error
from traymail.pop3._connection import (
    MAX_STATUS_LINE,
    NEED_DATA,
    Challenge,
    Connection,
    State,
)

#: the most a connection may hold of input it has not consumed: a status
#: line's cap, plus one read (65536), plus a little
BUFFER_BOUND = MAX_STATUS_LINE + 65536 + 16

COMMAND_SETS: list[tuple[tuple[str, ...], ...]] = [
    (("STAT",), ("LIST",), ("RETR", "1"), ("UIDL",), ("TOP", "1", "0")),
    (("CAPA",), ("UIDL", "3"), ("LIST", "2"), ("DELE", "1"), ("NOOP",)),
    (("RETR", "1"), ("RETR", "2"), ("RETR", "3")),
]


def logged_in(pipelining: bool = True) -> Connection:
    conn = Connection()
    conn.receive_data(b"+OK hi\r\n")
    conn.next_event()
    conn.pipelining = pipelining
    conn.send_command("USER", "u")
    conn.send_command("PASS", "p")
    conn.receive_data(b"+OK\r\n+OK\r\n")
    conn.next_event()
    conn.next_event()
    assert conn.state is State.TRANSACTION
    return conn


def drain(conn: Connection, limit: int = 10_000) -> None:
    """Pull events until the connection needs data (bounded: a bug never spins)."""
    for _ in range(limit):
        if conn.next_event() is NEED_DATA:
            break


def fuzz_connection(data: bytes, chunk: int, commands: int, eof: bool) -> str:
    """Feed ``data`` in ``chunk``-byte pieces to a connection expecting replies.
    Returns "ok" or "POP3Error"; anything else propagates (a finding)."""
    conn = logged_in()
    for cmd in COMMAND_SETS[commands % len(COMMAND_SETS)]:
        conn.send_command(*cmd)
    try:
        step = max(1, chunk)
        for i in range(0, len(data), step):
            conn.receive_data(data[i : i + step])
            drain(conn)
            assert conn.leftover() <= BUFFER_BOUND, f"buffered {conn.leftover()} octets"
        if eof:
            conn.receive_data(b"")
            drain(conn)
    except POP3Error:
        return "POP3Error"
    return "ok"


def fuzz_auth(data: bytes, chunk: int, cancel: bool) -> str:
    """A SASL exchange (RFC 5034): ``data`` is what the server says after
    ``AUTH``; every challenge is answered (or cancelled) before reading on."""
    conn = Connection()
    conn.receive_data(b"+OK hi\r\n")
    conn.next_event()
    conn.send_auth("XOAUTH2")
    try:
        step = max(1, chunk)
        for i in range(0, len(data), step):
            conn.receive_data(data[i : i + step])
            for _ in range(10_000):
                if conn.state is State.AUTH_CONTINUE:
                    if cancel:
                        conn.cancel_auth()
                    else:
                        conn.send_auth_response(b"")
                event = conn.next_event()
                if event is NEED_DATA:
                    break
                assert not isinstance(event, Challenge) or conn.state is State.AUTH_CONTINUE
            assert conn.leftover() <= BUFFER_BOUND, f"buffered {conn.leftover()} octets"
    except POP3Error:
        return "POP3Error"
    return "ok"


def fuzz_greeting(data: bytes) -> str:
    conn = Connection()
    try:
        conn.receive_data(data)
        conn.receive_data(b"")
        drain(conn, 100)
    except POP3Error:
        return "POP3Error"
    return "ok"


def fuzz_headers(data: bytes) -> str:
    h = parse_headers("u", None, data)
    assert all(isinstance(x, str) for x in (h.sender, h.subject, h.date, h.recipients))
    assert isinstance(preview_text(data), str)
    return "ok"


def endless_line_is_bounded(status: bool) -> None:
    """A line that never ends (10 MB of it) stays bounded in memory."""
    conn = logged_in()
    conn.send_command("RETR", "1")
    if not status:
        conn.receive_data(b"+OK\r\n")
        conn.next_event()
    block = b"x" * 65536
    try:
        for _ in range(160):  # 10 MiB
            conn.receive_data(block)
            while conn.next_event() is not NEED_DATA:
                pass
            assert conn.leftover() <= BUFFER_BOUND
    except POP3Error:
        assert status  # only a status line has a cap; a body line streams
        return
    assert not status, "an endless status line was accepted"
