"""Framing: status lines, listings and bodies, whole, byte by byte, any chunking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from traymail.pop3 import POP3Error, RemoteProtocolError
from traymail.pop3._connection import (
    NEED_DATA,
    Connection,
    ConnectionClosed,
    DataChunk,
    DataLine,
    EndOfData,
    State,
    Status,
)
from traymail.pop3._lines import BodyReader, ReceiveBuffer, dot_stuff


def chunkings(data: bytes) -> list[list[bytes]]:
    """The same bytes whole, one byte at a time, and in odd-sized pieces."""
    return [
        [data],
        [data[i : i + 1] for i in range(len(data))],
        [data[i : i + 3] for i in range(0, len(data), 3)],
        [data[i : i + 7] for i in range(0, len(data), 7)],
    ]


def decode_body(chunks: list[bytes]) -> tuple[bytes, bytes]:
    """Run a BodyReader over chunks; return (body, bytes left after the terminator)."""
    buf = ReceiveBuffer()
    reader = BodyReader()
    out = []
    for chunk in chunks:
        buf.feed(chunk)
        while not reader.done:
            piece = reader.read(buf)
            if not piece:
                break
            out.append(piece)
    assert reader.done, "terminator not found"
    body = b"".join(out)
    assert reader.octets == len(body)
    return body, buf.take_all()


BODY_CASES = [
    (b".\r\n", b""),
    (b"a\r\n.\r\n", b"a\r\n"),
    (b"..\r\n.\r\n", b".\r\n"),
    (b"...\r\n.\r\n", b"..\r\n"),
    (b"a\r\n..b\r\n.\r\n", b"a\r\n.b\r\n"),
    (b".x\r\n.\r\n", b".x\r\n"),  # lenient: unstuffed dot kept
    (b"a\nb\n.\n", b"a\r\nb\r\n"),  # bare LF throughout
    (b"a\r\nb\nc\r\n.\r\n", b"a\r\nb\r\nc\r\n"),  # mixed
    (b"a.\r\n.\r\n", b"a.\r\n"),
    (b"\r\n.\r\n", b"\r\n"),
    (b"\r\n\r\n..\r\n.\r\n", b"\r\n\r\n.\r\n"),
    (b"a\rb\r\n.\r\n", b"a\rb\r\n"),  # lone CR kept
    (b"x" * 5000 + b"\r\n.\r\n", b"x" * 5000 + b"\r\n"),
    (b"a\r\n.\r\n+OK next\r\n", b"a\r\n"),
]


@pytest.mark.parametrize("wire,body", BODY_CASES)
def test_body_cases_any_chunking(wire: bytes, body: bytes) -> None:
    trailing = b"+OK next\r\n" if wire.endswith(b"+OK next\r\n") else b""
    for chunks in chunkings(wire):
        got, left = decode_body(chunks)
        assert got == body
        assert left == trailing


def test_one_megabyte_line_streams_without_buffering() -> None:
    line = b"y" * 1_000_000
    buf = ReceiveBuffer()
    reader = BodyReader()
    total = 0
    for i in range(0, len(line), 65536):
        buf.feed(line[i : i + 65536])
        piece = reader.read(buf)
        total += len(piece or b"")
        assert len(buf) <= 2  # never holds more than a possible CR
    buf.feed(b"\r\n.\r\n")
    while (piece := reader.read(buf)) is not None:
        total += len(piece)
    assert reader.done and total == len(line) + 2


def test_status_line_cap() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"+OK " + b"a" * 100)
    with pytest.raises(RemoteProtocolError):
        buf.take_line(50)
    buf = ReceiveBuffer()
    buf.feed(b"+OK short\n")
    assert buf.take_line(50) == b"+OK short"


def test_status_line_cap_in_connection_byte_by_byte() -> None:
    conn = Connection(max_status_line=100)
    with pytest.raises(RemoteProtocolError, match="longer than"):
        for b in b"+OK " + b"z" * 200:
            conn.receive_data(bytes([b]))
            assert conn.next_event() is NEED_DATA


@given(st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b),
                max_size=30))
def test_dot_stuff_round_trip(lines: list[bytes]) -> None:
    body = b"".join(line + b"\r\n" for line in lines)
    wire = dot_stuff(body)
    assert wire.endswith(b"\r\n.\r\n") or wire == b".\r\n"
    for chunks in chunkings(wire)[:2]:
        assert decode_body(chunks) == (body, b"")


@given(
    st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b),
             max_size=20),
    st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=40),
)
def test_arbitrary_chunking(lines: list[bytes], cuts: list[int]) -> None:
    body = b"".join(line + b"\r\n" for line in lines)
    wire = dot_stuff(body) + b"+OK after\r\n"
    chunks, i, k = [], 0, 0
    while i < len(wire):
        n = cuts[k % len(cuts)]
        chunks.append(wire[i : i + n])
        i += n
        k += 1
    assert decode_body(chunks) == (body, b"+OK after\r\n")


def feed_events(conn: Connection, chunks: list[bytes]) -> list[object]:
    events: list[object] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        while True:
            ev = conn.next_event()
            if ev is NEED_DATA:
                break
            events.append(ev)
            if isinstance(ev, ConnectionClosed):
                return events
    return events


def merged(events: list[object]) -> list[object]:
    """Join consecutive DataChunks so chunkings can be compared."""
    out: list[object] = []
    for ev in events:
        if isinstance(ev, DataChunk) and out and isinstance(out[-1], DataChunk):
            out[-1] = DataChunk(out[-1].data + ev.data)
        else:
            out.append(ev)
    return out


def logged_in(max_status_line: int = 8192) -> Connection:
    """A connection driven through greeting, USER and PASS to TRANSACTION."""
    conn = Connection(max_status_line=max_status_line)
    feed_events(conn, [b"+OK hello <1.2@x>\r\n"])
    conn.send_command("USER", "u")
    feed_events(conn, [b"+OK\r\n"])
    conn.send_command("PASS", "p")
    feed_events(conn, [b"+OK logged in\r\n"])
    assert conn.state is State.TRANSACTION
    return conn


def test_pipelined_replies_any_chunking() -> None:
    wire = (
        b"+OK 2 10\r\n"
        b"+OK\r\n1 5\r\n2 5\r\n.\r\n"
        b"+OK top\r\nSubject: a\r\n\r\n.\r\n"
        b"-ERR [SYS/TEMP] later\r\n"
        b"+OK\r\n1 abc\r\n..2 dotted\r\n.\r\n"
    )
    for chunks in chunkings(wire):
        conn = logged_in()
        for cmd in (("STAT",), ("LIST",), ("TOP", "1", "0"), ("RETR", "9"), ("UIDL",)):
            conn.send_command(*cmd)
        assert conn.pending == 5
        evs = merged(feed_events(conn, chunks))
        kinds = [type(e).__name__ for e in evs]
        assert kinds == [
            "Status",
            "Status", "DataLine", "DataLine", "EndOfData",
            "Status", "DataChunk", "EndOfData",
            "Status",
            "Status", "DataLine", "DataLine", "EndOfData",
        ]
        assert [e.command for e in evs if isinstance(e, Status)] == [
            "STAT", "LIST", "TOP", "RETR", "UIDL"
        ]
        assert evs[6] == DataChunk(b"Subject: a\r\n\r\n")
        assert isinstance(evs[8], Status) and evs[8].reply.code == "SYS/TEMP"
        assert evs[11] == DataLine(b".2 dotted")
        assert isinstance(evs[12], EndOfData)
        assert conn.pending == 0


@settings(max_examples=300)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=64))
def test_random_garbage_only_pop3_errors(data: bytes, step: int) -> None:
    conn = logged_in(max_status_line=128)
    for cmd in (("STAT",), ("LIST",), ("RETR", "1"), ("UIDL",), ("TOP", "1", "0")):
        conn.send_command(*cmd)
    try:
        for i in range(0, len(data), step):
            conn.receive_data(data[i : i + step])
            while conn.next_event() is not NEED_DATA:
                pass
        conn.receive_data(b"")
        for _ in range(100):
            ev = conn.next_event()
            if ev is NEED_DATA:
                break
    except POP3Error:
        pass


def reference_decode(wire: bytes) -> tuple[bytes, bytes]:
    """A slow, obviously-correct line-by-line decoder (RFC 1939 §3)."""
    out, pos = [], 0
    while True:
        nl = wire.index(b"\n", pos)
        line = wire[pos:nl].removesuffix(b"\r")
        pos = nl + 1
        if line == b".":
            return b"".join(out), wire[pos:]
        if line.startswith(b".."):
            line = line[1:]
        out.append(line + b"\r\n")


@settings(max_examples=400)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"", b".", b"..", b"...", b"a", b".a", b"a.", b"x" * 70, b". "]),
            st.sampled_from([b"\r\n", b"\n"]),
        ),
        max_size=25,
    ),
    st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=20),
)
def test_fast_path_matches_reference(lines: list[tuple[bytes, bytes]], cuts: list[int]) -> None:
    # wire form: stuff dots, any mix of CRLF and bare LF, terminator, next reply
    wire = b"".join((b"." + t if t.startswith(b".") else t) + end for t, end in lines)
    wire += b".\r\n+OK next\r\n"
    chunks, i, k = [], 0, 0
    while i < len(wire):
        chunks.append(wire[i : i + cuts[k % len(cuts)]])
        i += cuts[k % len(cuts)]
        k += 1
    assert decode_body(chunks) == reference_decode(wire)
