"""The sans-IO state machine: states, rules, errors (RFC 1939 §3-§7, RFC 2449, RFC 2595)."""

from __future__ import annotations

import pytest

from traymail.pop3 import (
    AuthenticationError,
    LocalProtocolError,
    LoginDelayError,
    MailboxInUseError,
    PermanentFailure,
    RemoteProtocolError,
    ServerError,
    TemporaryFailure,
)
from traymail.pop3._connection import NEED_DATA, Connection, ConnectionClosed, State, Status
from traymail.pop3._errors import error_for_reply
from traymail.pop3._replies import (
    apop_timestamp,
    parse_status_line,
    parse_unique_id,
)

from .test_lines import feed_events, logged_in


def test_greeting_then_authorization() -> None:
    conn = Connection()
    assert conn.state is State.GREETING
    with pytest.raises(LocalProtocolError):
        conn.send_command("USER", "u")  # nothing may be sent before the greeting
    for b in b"+OK ready\r\n":  # byte by byte
        conn.receive_data(bytes([b]))
    ev = conn.next_event()
    assert isinstance(ev, Status) and ev.command == "GREETING"
    assert conn.state is State.AUTHORIZATION


def test_negative_greeting_closes() -> None:
    conn = Connection()
    evs = feed_events(conn, [b"-ERR [SYS/TEMP] go away\r\n"])
    assert isinstance(evs[0], Status) and not evs[0].reply.ok
    assert conn.state is State.CLOSED
    with pytest.raises(LocalProtocolError, match="closed"):
        conn.send_command("QUIT")


@pytest.mark.parametrize("verb", ["STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL"])
def test_transaction_commands_refused_before_login(verb: str) -> None:
    conn = Connection()
    feed_events(conn, [b"+OK\r\n"])
    with pytest.raises(LocalProtocolError, match="not allowed in state authorization"):
        conn.send_command(verb)


@pytest.mark.parametrize("verb", ["USER", "PASS", "APOP", "STLS"])
def test_authorization_commands_refused_after_login(verb: str) -> None:
    conn = logged_in()
    with pytest.raises(LocalProtocolError):
        conn.send_command(verb, "x")


def test_pass_needs_accepted_user() -> None:
    conn = Connection()
    feed_events(conn, [b"+OK\r\n"])
    with pytest.raises(LocalProtocolError, match="PASS must follow"):
        conn.send_command("PASS", "secret")
    conn.send_command("USER", "u")
    feed_events(conn, [b"-ERR no such user\r\n"])
    with pytest.raises(LocalProtocolError):
        conn.send_command("PASS", "secret")
    conn.send_command("USER", "u")
    feed_events(conn, [b"+OK\r\n"])
    conn.send_command("PASS", "wrong")
    feed_events(conn, [b"-ERR [AUTH] bad\r\n"])
    assert conn.state is State.AUTHORIZATION  # RFC 1939 §7: may try again
    with pytest.raises(LocalProtocolError):
        conn.send_command("PASS", "again")  # ... starting with USER


@pytest.mark.parametrize("bad", ["a\r\nDELE 1", "a\nb", "a\rb", "a\0b", ""])
def test_arguments_with_line_breaks_or_nul_are_refused(bad: str) -> None:
    conn = Connection()
    feed_events(conn, [b"+OK\r\n"])
    conn.send_command("USER", "u")
    feed_events(conn, [b"+OK\r\n"])
    with pytest.raises(LocalProtocolError) as info:
        conn.send_command("PASS", bad)
    assert bad not in str(info.value) or bad == ""
    assert conn.pending == 0  # nothing was queued


def test_overlong_command_refused() -> None:
    conn = Connection()
    feed_events(conn, [b"+OK\r\n"])
    with pytest.raises(LocalProtocolError, match="255"):
        conn.send_command("USER", "u" * 260)


@pytest.mark.parametrize("verb", ["QUIT"])
def test_state_changing_commands_are_never_pipelined(verb: str) -> None:
    conn = logged_in()
    conn.send_command("STAT")
    with pytest.raises(LocalProtocolError, match="pipelined"):
        conn.send_command(verb)
    feed_events(conn, [b"+OK 0 0\r\n"])
    conn.send_command(verb)
    with pytest.raises(LocalProtocolError):
        conn.send_command("NOOP")  # nothing behind QUIT


def test_nothing_pipelined_behind_authentication() -> None:
    conn = Connection()
    feed_events(conn, [b"+OK\r\n"])
    conn.send_command("USER", "u")
    with pytest.raises(LocalProtocolError):
        conn.send_command("PASS", "p")
    with pytest.raises(LocalProtocolError):
        conn.send_command("CAPA")


def test_quit_goes_through_update_to_closed() -> None:
    conn = logged_in()
    conn.send_command("QUIT")
    assert conn.state is State.UPDATE
    feed_events(conn, [b"+OK bye\r\n"])
    assert conn.state is State.CLOSED


def test_stls_then_handshake() -> None:
    conn = Connection()
    feed_events(conn, [b"+OK\r\n"])
    conn.send_command("STLS")
    feed_events(conn, [b"+OK begin\r\n"])
    assert conn.state is State.TLS_PENDING
    with pytest.raises(LocalProtocolError):
        conn.send_command("CAPA")
    conn.tls_started()
    assert conn.state is State.AUTHORIZATION and conn.tls_active
    with pytest.raises(LocalProtocolError, match="already"):
        conn.send_command("STLS")


@pytest.mark.parametrize("split", [True, False])
def test_bytes_after_stls_ok_are_an_injection(split: bool) -> None:
    conn = Connection()
    feed_events(conn, [b"+OK\r\n"])
    conn.send_command("STLS")
    data = b"+OK begin\r\n+OK injected\r\n"
    with pytest.raises(RemoteProtocolError, match="before the TLS handshake"):
        if split:
            feed_events(conn, [data[:11], data[11:]])
        else:
            feed_events(conn, [data])
    assert conn.state is State.ERROR
    with pytest.raises(LocalProtocolError, match="broken"):
        conn.send_command("QUIT")


def test_eof_mid_reply_and_idle_eof() -> None:
    conn = logged_in()
    conn.send_command("RETR", "1")
    feed_events(conn, [b"+OK\r\npartial line\r\n"])
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="middle of the reply to RETR"):
        conn.next_event()
    conn = logged_in()
    conn.send_command("STAT")
    conn.receive_data(b"+OK 1")
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="waiting for the reply to STAT"):
        conn.next_event()
    conn = logged_in()
    conn.receive_data(b"")
    assert isinstance(conn.next_event(), ConnectionClosed)


def test_unsolicited_data_is_a_protocol_error() -> None:
    conn = logged_in()
    conn.receive_data(b"+OK surprise\r\n")
    with pytest.raises(RemoteProtocolError, match="nobody asked"):
        conn.next_event()


@pytest.mark.parametrize("line", [b"HTTP/1.1 200 OK", b"+Ok lower", b"", b"\xff\xfe"])
def test_garbage_status_line(line: bytes) -> None:
    conn = logged_in()
    conn.send_command("NOOP")
    with pytest.raises(RemoteProtocolError):
        feed_events(conn, [line + b"\r\n"])
    assert conn.state is State.ERROR


def test_need_data_until_complete() -> None:
    conn = logged_in()
    conn.send_command("NOOP")
    conn.receive_data(b"+O")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"K\r")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"\n")
    assert isinstance(conn.next_event(), Status)


@pytest.mark.parametrize(
    "line,code,cls",
    [
        (b"-ERR [IN-USE] locked", "IN-USE", MailboxInUseError),
        (b"-ERR [LOGIN-DELAY] wait", "LOGIN-DELAY", LoginDelayError),
        (b"-ERR [SYS/TEMP] later", "SYS/TEMP", TemporaryFailure),
        (b"-ERR [sys/perm] never", "SYS/PERM", PermanentFailure),
        (b"-ERR [AUTH] bad password", "AUTH", AuthenticationError),
        (b"-ERR [XFOO] odd", "XFOO", ServerError),
        (b"-ERR plain", None, ServerError),
    ],
)
def test_response_codes(line: bytes, code: str | None, cls: type[ServerError]) -> None:
    reply = parse_status_line(line)
    assert not reply.ok and reply.code == code
    err = error_for_reply("RETR", reply.text, reply.code)
    assert type(err) is cls and err.code == code
    assert "[" not in err.text


def test_err_to_pass_without_code_is_authentication_error() -> None:
    assert type(error_for_reply("PASS", "nope", None)) is AuthenticationError
    assert type(error_for_reply("APOP", "nope", None)) is AuthenticationError


def test_apop_timestamp() -> None:
    assert apop_timestamp("POP3 ready <1896.697170952@dbc.mtview.ca.us>") == (
        "<1896.697170952@dbc.mtview.ca.us>"
    )
    assert apop_timestamp("ready <no-at-sign>") is None
    assert apop_timestamp("<" * 5000 + "x@y" + ">" * 5000) == "<x@y>"


def test_uidl_parsing_is_lenient_but_safe() -> None:
    assert parse_unique_id("1   abc def").uid == "abc def"
    with pytest.raises(RemoteProtocolError):
        parse_unique_id("0 abc")
    with pytest.raises(RemoteProtocolError):
        parse_unique_id("1 a\x01b")
    with pytest.raises(RemoteProtocolError):
        parse_unique_id("x abc")


def test_user_and_pass_pipelined_only_when_announced() -> None:
    conn = Connection()
    feed_events(conn, [b"+OK\r\n"])
    conn.pipelining = True
    conn.send_command("USER", "u")
    conn.send_command("PASS", "p")  # RFC 2449 §6.6
    with pytest.raises(LocalProtocolError):
        conn.send_command("STAT")  # never behind authentication
    evs = feed_events(conn, [b"+OK\r\n+OK in\r\n"])
    assert [e.command for e in evs if isinstance(e, Status)] == ["USER", "PASS"]
    assert conn.state is State.TRANSACTION
    conn = Connection()
    feed_events(conn, [b"+OK\r\n"])
    conn.pipelining = True
    conn.send_command("USER", "nobody")
    conn.send_command("PASS", "p")
    feed_events(conn, [b"-ERR no such user\r\n-ERR [AUTH] no\r\n"])
    assert conn.state is State.AUTHORIZATION
