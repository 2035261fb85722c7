"""Listings read in bulk (``Connection.bulk_lines``, the client's default) and
the whole-listing UIDL parser give exactly what the line-by-line path gives:
the same lines, the same pairs, the same errors, for any bytes and any
chunking (RFC 1939 §3 framing, §7 UIDL)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from traymail.pop3 import RemoteProtocolError
from traymail.pop3._connection import (
    NEED_DATA,
    Connection,
    DataLine,
    DataLines,
    EndOfData,
    Status,
)
from traymail.pop3._replies import (
    parse_scan_listing,
    parse_unique_id,
    scan_sizes,
    unique_id_pairs,
)

from .test_lines import logged_in


def read(conn: Connection, chunks: list[bytes], verbs: list[str]) -> list[object]:
    """Lines (bytes), EndOfData and Status per reply -- or the error text."""
    for verb in verbs:
        conn.send_command(*verb.split())
    out: list[object] = []
    try:
        for chunk in chunks + [b""]:
            conn.receive_data(chunk)
            while conn.pending:
                ev = conn.next_event()
                if ev is NEED_DATA:
                    break
                if isinstance(ev, DataLines):
                    assert ev.lines and ev.octets == sum(len(x) + 2 for x in ev.lines)
                    out.extend(ev.lines)
                elif isinstance(ev, DataLine):
                    out.append(ev.line)
                elif isinstance(ev, (EndOfData, Status)):
                    out.append(ev)
    except RemoteProtocolError as exc:
        out.append(f"error: {exc}")
    return out


def both(wire: bytes, cuts: list[int], verbs: list[str], stat: int | None = None,
         max_status_line: int = 8192) -> tuple[list[object], list[object]]:
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    chunks = [wire[a:b] for a, b in zip(points, points[1:], strict=False)]
    results = []
    for bulk in (False, True):
        conn = logged_in(max_status_line)
        conn.bulk_lines = bulk
        conn.pipelining = True
        conn.stat_count = stat
        results.append(read(conn, chunks, verbs))
    return results[0], results[1]


LINE = st.one_of(
    st.sampled_from([b"1 abc", b"2 def", b".", b"..x", b".y", b"", b"3 a b", b"4\tq",
                     b"x" * 90, b"5 " + b"u" * 70, b"6 " + b"u" * 71, b"7 \x1bz",
                     b"8 \xc3\xa9t\xc3\xa9", b"9 \xff", b"0 zero", b" 10 lead"]),
    st.binary(max_size=12))
END = st.sampled_from([b"\r\n", b"\n"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(LINE, END), max_size=12), st.lists(st.integers(0, 400), max_size=6),
       st.sampled_from(["UIDL", "LIST", "CAPA"]), st.booleans(), st.sampled_from([None, 3]))
def test_bulk_lines_equal_line_by_line(lines: list[tuple[bytes, bytes]], cuts: list[int],
                                       verb: str, terminated: bool, stat: int | None) -> None:
    body = b"".join(line.replace(b"\n", b"") + end for line, end in lines)
    wire = b"+OK\r\n" + body + (b".\r\n+OK 1 2\r\n" if terminated else b"")
    verbs = [verb, "STAT"] if terminated else [verb]
    one, bulk = both(wire, cuts, verbs, stat, max_status_line=64)
    same(one, bulk)


def same(one: list[object], bulk: list[object]) -> None:
    """Equal; or the same error, bulk having handed out a prefix of the lines
    before it (a batch with a bad line is refused whole)."""
    if one and isinstance(one[-1], str):
        assert bulk[-1] == one[-1]
        assert bulk[:-1] == one[:len(bulk) - 1]
    else:
        assert bulk == one


def test_listing_then_pipelined_body_is_left_alone() -> None:
    wire = (b"+OK\r\n1 a\r\n..2 b\r\n.\r\n+OK\r\nSubject: x\r\n..dot\r\n.\r\n")
    one, bulk = both(wire, [3, 17, 30], ["UIDL", "RETR 1"])
    same(one, bulk)
    assert bulk[1:3] == [b"1 a", b".2 b"]


def test_a_long_line_is_refused_before_its_end_arrives() -> None:
    conn = logged_in(max_status_line=64)
    conn.bulk_lines = True
    conn.send_command("LIST")
    conn.receive_data(b"+OK\r\n1 5\r\n" + b"9" * 100)
    assert isinstance(conn.next_event(), Status)
    try:
        while not isinstance(ev := conn.next_event(), type(NEED_DATA)):
            assert isinstance(ev, DataLines) and b"9" * 65 not in ev.lines
    except RemoteProtocolError as exc:
        assert "longer than 64" in str(exc)
    else:
        raise AssertionError("an over-long unfinished line was accepted")


def test_listing_longer_than_stat_allows_is_refused_in_bulk() -> None:
    conn = logged_in()
    conn.bulk_lines = True
    conn.send_command("STAT")
    conn.receive_data(b"+OK 2 20\r\n")
    conn.next_event()
    conn.send_command("UIDL")
    conn.receive_data(b"+OK\r\n" + b"".join(b"%d u%d\r\n" % (i, i) for i in range(1, 200)))
    conn.next_event()
    try:
        conn.next_event()
    except RemoteProtocolError as exc:
        assert "listing longer than" in str(exc) and "STAT said 2" in str(exc)
    else:
        raise AssertionError("an over-long listing was accepted")


def reference(text: str, count: int) -> list[tuple[int, str]] | str:
    try:
        return [(u.number, u.uid) for u in map(parse_unique_id,
                                               text.split("\n") if count else [])]
    except RemoteProtocolError as exc:
        return f"error: {exc}"


def fast(text: str, count: int) -> list[tuple[int, str]] | str:
    try:
        return unique_id_pairs((text, count))
    except RemoteProtocolError as exc:
        return f"error: {exc}"


UID_LINE = st.one_of(
    st.builds(lambda n, sp, u, tail: f"{n}{sp}{u}{tail}", st.integers(0, 10**6).map(str)
              | st.sampled_from(["007", "", "x", "-1", "٣"]),
              st.sampled_from([" ", "  ", "\t", "\xa0", "\x0b", ""]),
              st.text(st.characters(codec="utf-8"), max_size=75)
              | st.sampled_from(["a" * 70, "a" * 71, "é" * 35, "é" * 36, "a\u202eb"]),
              st.sampled_from(["", " ", "\t", "\r", " x"])),
    st.text(max_size=20))


@settings(max_examples=600, deadline=None)
@given(st.lists(UID_LINE.filter(lambda s: "\n" not in s), max_size=8))
def test_whole_listing_uidl_parser_equals_the_line_parser(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert fast(text, len(lines)) == reference(text, len(lines))


LIST_LINE = st.one_of(
    st.builds(lambda n, sp, size, tail: f"{n}{sp}{size}{tail}",
              st.integers(0, 10**6).map(str) | st.sampled_from(["007", "", "x", "٣"]),
              st.sampled_from([" ", "  ", "\t", "\x0b", ""]),
              st.integers(0, 10**9).map(str) | st.sampled_from(["", "-5", "1e3", "٣"]),
              st.sampled_from(["", " ", " extra words", "\tx", "\x0b", " \x0b"])),
    st.text(max_size=16))


def list_reference(text: str, count: int) -> dict[int, int] | str:
    try:
        found = [parse_scan_listing(x) for x in (text.split("\n") if count else [])]
    except RemoteProtocolError as exc:
        return f"error: {exc}"
    return {s.number: s.size for s in found}


@settings(max_examples=600, deadline=None)
@given(st.lists(LIST_LINE.filter(lambda s: "\n" not in s), max_size=8))
def test_whole_listing_list_parser_equals_the_line_parser(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        fast_sizes: dict[int, int] | str = scan_sizes((text, len(lines)))
    except RemoteProtocolError as exc:
        fast_sizes = f"error: {exc}"
    assert fast_sizes == list_reference(text, len(lines))
