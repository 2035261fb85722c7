"""The single-instance channel's own framing on POSIX (traymail.channel.SocketConn):
the bytes on the wire are multiprocessing.connection's, so either end may be
the other; a frame over the limit, a lying length and a closed peer are
refused."""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection

import pytest

from traymail.channel import SocketConn

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets (POSIX path)")


@pytest.fixture
def pair() -> Iterator[tuple[SocketConn, socket.socket]]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    conn = SocketConn(ours)
    yield conn, theirs
    conn.close()
    theirs.close()


def test_frames_are_multiprocessing_connection_frames(
        pair: tuple[SocketConn, socket.socket]) -> None:
    conn, theirs = pair
    other = Connection(theirs.detach())
    try:
        conn.send_bytes(b"show\n" + bytes(range(40)))
        assert other.poll(5) and other.recv_bytes(256) == b"show\n" + bytes(range(40))
        other.send_bytes(b"ok\n")
        assert conn.poll(5) and conn.recv_bytes(256) == b"ok\n"
        conn.send_bytes(b"")  # an empty frame is a frame
        assert other.recv_bytes(256) == b""
    finally:
        other.close()


def test_poll_waits_for_a_frame_and_times_out(pair: tuple[SocketConn, socket.socket]) -> None:
    conn, theirs = pair
    t0 = time.monotonic()
    assert conn.poll(0.3) is False
    assert 0.25 <= time.monotonic() - t0 < 3
    threading.Timer(0.2, lambda: theirs.sendall(struct.pack("!i", 2) + b"hi")).start()
    assert conn.poll(5) is True
    assert conn.recv_bytes(256) == b"hi"


def test_a_frame_over_the_limit_is_refused_unread(pair: tuple[SocketConn, socket.socket]) -> None:
    conn, theirs = pair
    theirs.sendall(struct.pack("!i", 257) + b"x" * 257)
    with pytest.raises(OSError, match="bad message length"):
        conn.recv_bytes(256)


def test_a_negative_length_is_refused(pair: tuple[SocketConn, socket.socket]) -> None:
    conn, theirs = pair
    theirs.sendall(struct.pack("!i", -1) + struct.pack("!Q", 1 << 40))  # mp's "long frame"
    with pytest.raises(OSError, match="bad message length"):
        conn.recv_bytes(256)


def test_a_closed_peer_mid_frame_is_eof(pair: tuple[SocketConn, socket.socket]) -> None:
    conn, theirs = pair
    theirs.sendall(struct.pack("!i", 10) + b"abc")
    theirs.close()
    assert conn.poll(5)
    with pytest.raises(EOFError):
        conn.recv_bytes(256)
