"""Bounded memory against a hostile server (issue 12, item 2): a TOP reply
is capped, LIST/UIDL listings are capped by STAT's count, a UID by RFC 1939's
70 octets, and a RETR body far over its LIST size ends the session."""

from __future__ import annotations

import itertools
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from traymail.devserver import DevServer, Faults, MemoryMailbox
from traymail.mailbox import AccountState, MailboxError
from traymail.pop3 import POP3, RemoteProtocolError, TopReply
from traymail.pop3._connection import (
    LISTING_SLACK,
    MAX_TOP,
    Connection,
    DataChunk,
    DataLine,
    EndOfData,
    NeedData,
    Status,
    oversize_limit,
)
from traymail.samples import sample_messages

from .engine import Engine

MakeServer = Callable[..., DevServer]
MiB = 1024 * 1024


# -- the sans-IO core, fed whole and one byte at a time --------------------------
def logged_in(**kw: int) -> Connection:
    conn = Connection(**kw)
    conn.receive_data(b"+OK hi\r\n")
    assert isinstance(conn.next_event(), Status)
    conn.send_command("USER", "u")
    conn.receive_data(b"+OK\r\n")
    conn.next_event()
    conn.send_command("PASS", "p")
    conn.receive_data(b"+OK\r\n")
    conn.next_event()
    return conn


def feed(conn: Connection, data: bytes, bytewise: bool) -> list[object]:
    """Feed ``data``; collect events until NEED_DATA (errors propagate)."""
    events: list[object] = []
    pieces = [data[i:i + 1] for i in range(len(data))] if bytewise else [data]
    for piece in pieces:
        conn.receive_data(piece)
        while not isinstance(event := conn.next_event(), NeedData):
            events.append(event)
    return events


@pytest.mark.parametrize("bytewise", [False, True])
def test_core_top_keeps_max_top_octets_and_goes_on(bytewise: bool) -> None:
    conn = logged_in(max_top=100)
    conn.send_command("TOP", "1", "0")
    conn.send_command("NOOP")
    body = b"Subject: " + b"x" * 500 + b"\r\nFrom: a\r\n\r\n"
    events = feed(conn, b"+OK\r\n" + body + b".\r\n+OK still here\r\n", bytewise)
    kept = b"".join(e.data for e in events if isinstance(e, DataChunk))
    assert kept == body[:100]
    end = next(e for e in events if isinstance(e, EndOfData))
    assert end.truncated and end.octets == len(body)
    assert isinstance(events[-1], Status) and events[-1].reply.text == "still here"


@pytest.mark.parametrize("bytewise", [False, True])
def test_core_listing_is_capped_by_stat_count(bytewise: bool) -> None:
    conn = logged_in()
    conn.pipelining = True
    conn.send_command("STAT")
    conn.send_command("UIDL")
    lines = b"".join(b"%d uid-%d\r\n" % (n, n) for n in range(1, 3 + LISTING_SLACK + 2))
    with pytest.raises(RemoteProtocolError, match=r"UIDL listing longer than 19 lines "
                                                  r"\(STAT said 3 messages\)"):
        feed(conn, b"+OK 3 300\r\n+OK\r\n" + lines, bytewise)


def test_core_listing_without_stat_has_an_absolute_cap() -> None:
    conn = logged_in(max_listing=50)
    conn.send_command("LIST")
    with pytest.raises(RemoteProtocolError, match="LIST listing longer than 50 lines"):
        feed(conn, b"+OK\r\n" + b"1 100\r\n" * 51, False)
    exact = logged_in(max_listing=50)
    exact.send_command("LIST")
    events = feed(exact, b"+OK\r\n" + b"1 100\r\n" * 50 + b".\r\n", False)
    assert sum(isinstance(e, DataLine) for e in events) == 50


@pytest.mark.parametrize("bytewise", [False, True])
def test_core_uidl_line_and_uid_length(bytewise: bool) -> None:
    conn = logged_in()
    conn.send_command("UIDL")
    with pytest.raises(RemoteProtocolError, match="line longer than 160 octets"):
        feed(conn, b"+OK\r\n1 " + b"u" * 200 + b"\r\n.\r\n", bytewise)
    with DevServer(MemoryMailbox([]), {"u": "p"}, faults=Faults(
            data={"UIDL": lambda: [b"1 " + b"u" * 71 + b"\r\n.\r\n"]})) as srv, \
            POP3("127.0.0.1", srv.port) as pop:
        pop.login("u", "p")
        with pytest.raises(RemoteProtocolError, match="longer than 70 octets"):
            pop.uidl()


@pytest.mark.parametrize("bytewise", [False, True])
def test_core_retr_far_over_its_list_size_fails(bytewise: bool) -> None:
    size = 1000
    limit = oversize_limit(size)
    assert limit == size + MiB
    conn = logged_in()
    conn.send_command("LIST", "2")
    feed(conn, b"+OK 2 %d\r\n" % size, False)
    conn.send_command("RETR", "2")
    ok = b"x" * 70 + b"\r\n"
    body = ok * (limit // len(ok) - 1)
    events = feed(conn, b"+OK\r\n" + body + b".\r\n", False)  # within the limit: fine
    assert isinstance(events[-1], EndOfData) and events[-1].octets == len(body)
    conn.send_command("RETR", "2")
    over = b"+OK\r\n" + ok * (limit // len(ok) + 2)
    with pytest.raises(RemoteProtocolError, match="more than 1049576 octets for a message "
                                                  "LIST gave as 1000 octets"):
        if bytewise:  # the start byte by byte, the rest at once (2 MiB bytewise is slow)
            feed(conn, over[:300], True)
            feed(conn, over[300:], False)
        else:
            feed(conn, over, False)


# -- the client and the engine against the devserver, memory measured ------------------
def peak_during(fn: Callable[[], object]) -> tuple[object, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        return result, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def endless_line(total: int) -> Callable[[], Iterator[bytes]]:
    """A header line of ``total`` octets without a line end, then the terminator."""
    def make() -> Iterator[bytes]:
        yield b"Subject: "
        yield from itertools.repeat(b"y" * 65536, total // 65536)
        yield b"\r\n\r\n.\r\n"
    return make


@pytest.mark.timeout(120)
def test_top_with_a_64_mib_line_keeps_256_kib_and_the_session_goes_on() -> None:
    faults = Faults(data={"TOP": endless_line(64 * MiB)})
    with DevServer(MemoryMailbox(sample_messages(2)), {"u": "p"}, faults=faults) as srv, \
            POP3("127.0.0.1", srv.port, timeout=30) as pop:
        pop.login("u", "p")
        top, peak = peak_during(lambda: pop.top(1, 0))
        assert isinstance(top, TopReply) and top.truncated
        assert len(top) == MAX_TOP and top.startswith(b"Subject: yyy")
        assert peak < 8 * MiB, f"TOP of a 64 MiB line grew memory by {peak / MiB:.1f} MiB"
        assert pop.stat().count == 2  # the session goes on
        del faults.data["TOP"]
        normal = pop.top(2, 0)
        assert isinstance(normal, TopReply) and not normal.truncated


@pytest.mark.timeout(120)
def test_ten_million_uidl_lines_fail_early_with_flat_memory(
        tmp_path: Path, make_devserver: MakeServer) -> None:
    def ten_million() -> Iterator[bytes]:
        for start in range(1, 10_000_001, 10_000):
            yield b"".join(b"%d uid-%08d\r\n" % (n, n) for n in range(start, start + 10_000))
        yield b".\r\n"

    srv = make_devserver(MemoryMailbox(sample_messages(3)), Faults(data={"UIDL": ten_million}))
    engine = Engine(tmp_path / "home")
    mb = engine.mailbox(srv.port)
    err, peak = peak_during(lambda: pytest.raises(MailboxError, mb.check).value)
    assert isinstance(err, MailboxError) and err.state is AccountState.ERROR
    assert "UIDL listing longer than 19 lines (STAT said 3 messages)" in str(err)
    assert peak < 16 * MiB, f"10 M UIDL lines grew memory by {peak / MiB:.1f} MiB"
    assert engine.store.sizes("test") == {}  # nothing of it was stored
    assert not mb.busy


@pytest.mark.timeout(120)
def test_retr_far_over_its_list_size_ends_the_session_and_leaves_no_file(
        tmp_path: Path, make_devserver: MakeServer) -> None:
    def oversize() -> Iterator[bytes]:
        yield b"Subject: big\r\n\r\n"
        yield from itertools.repeat(b"z" * 78 + b"\r\n", 40_000)  # 3.2 MB for ~1 KB
        yield b".\r\n"

    box = MemoryMailbox(sample_messages(2))
    srv = make_devserver(box, Faults(data={"RETR": oversize}))
    engine = Engine(tmp_path / "home")
    mb = engine.mailbox(srv.port)
    mb.check()
    # the check's QUIT is sent without waiting for its answer: let the server
    # log it before counting, or it lands among the download's commands
    until = time.monotonic() + 5
    while (not srv.commands or srv.commands[-1] != "QUIT") and time.monotonic() < until:
        time.sleep(0.02)
    before = len(srv.commands)
    with pytest.raises(MailboxError, match="more than .* octets for a message LIST gave as"):
        mb.download_new()
    session = srv.commands[before:]
    assert "RETR 1" in session and "QUIT" not in session  # dropped at once, no QUIT
    assert not [p for p in engine.files() if p.suffix in (".eml", ".part")
                or p.name.endswith(".part")]
    assert "DELE" not in " ".join(srv.commands)
    assert len(box.snapshot()) == 2 and srv.deleted_total == 0
    assert engine.store.downloads("test") == {}
