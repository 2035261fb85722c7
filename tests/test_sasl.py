"""SASL in the sans-IO core and the mechanism encoders (RFC 5034, RFC 4616,
RFC 7628, XOAUTH2): byte-exact, whole and one byte at a time."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from traymail.pop3 import (
    AuthenticationError,
    LocalProtocolError,
    RemoteProtocolError,
    TemporaryFailure,
)
from traymail.pop3._connection import (
    MAX_COMMAND,
    NEED_DATA,
    Challenge,
    Connection,
    State,
    Status,
)
from traymail.pop3._errors import error_for_reply
from traymail.pop3._sasl import oauthbearer, parse_error_challenge, plain, xoauth2

LONG_TOKEN = "EwBwA8l6BAAU" + "x" * 1400  # Microsoft access tokens are ~1.5-2.5 KB
ERROR_JSON = b'{"status":"401","schemes":"bearer","scope":"https://outlook.office.com/"}'


def greeted() -> Connection:
    conn = Connection()
    conn.receive_data(b"+OK ready\r\n")
    assert isinstance(conn.next_event(), Status)
    return conn


def events(conn: Connection, data: bytes, bytewise: bool) -> list[object]:
    """Feed ``data`` (whole or one byte at a time) and collect events up to a
    Challenge (the client must answer before reading on) or NEED_DATA."""
    out: list[object] = []
    chunks = [data[i:i + 1] for i in range(len(data))] if bytewise else [data]
    for chunk in chunks:
        conn.receive_data(chunk)
        while conn.state is not State.AUTH_CONTINUE:
            ev = conn.next_event()
            if ev is NEED_DATA:
                break
            out.append(ev)
        if conn.state is State.AUTH_CONTINUE:
            break
    return out


# -- mechanism messages --------------------------------------------------------------
def test_plain_message_rfc4616() -> None:
    m = plain("tim", "tanstaaftanstaaf")
    assert m.initial == b"\0tim\0tanstaaftanstaaf"  # RFC 4616 §4 example
    assert plain("tim", "pw", authzid="Ursel").initial == b"Ursel\0tim\0pw"
    assert "tanstaaftanstaaf" in m.secrets
    with pytest.raises(LocalProtocolError):
        plain("a\0b", "pw")
    with pytest.raises(LocalProtocolError):
        plain("user", "")


def test_xoauth2_message_matches_googles_example() -> None:
    m = xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
    assert m.initial == (b"user=someuser@example.com\x01"
                         b"auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01")
    assert base64.b64encode(m.initial or b"") == (
        b"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRj"
        b"Mk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==")
    assert m.error_reply == b""


def test_oauthbearer_message_matches_rfc7628_example() -> None:
    m = oauthbearer("user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
                    "server.example.com", 143)
    assert base64.b64encode(m.initial or b"") == (  # RFC 7628 §4.1
        b"bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVh"
        b"cmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB")
    assert m.error_reply == b"\x01"  # RFC 7628 §3.2.3
    assert (oauthbearer("a,b=c", "t").initial or b"").startswith(b"n,a=a=2Cb=3Dc,\x01")


@pytest.mark.parametrize("token", ["a b", "tok\x01en", "t\u00e9", ""])
def test_bad_tokens_are_refused_before_sending(token: str) -> None:
    with pytest.raises(LocalProtocolError):
        xoauth2("u", token)


def test_error_challenge_json_keeps_only_known_short_fields() -> None:
    err = parse_error_challenge(ERROR_JSON)
    assert err is not None and err.status == "401" and err.schemes == "bearer"
    assert "status=401" in err.summary()
    assert parse_error_challenge(b"not json") is None
    assert parse_error_challenge(b"[1]") is None
    odd = parse_error_challenge(b'{"status": "40\\u001b[31m1", "token": "secret"}')
    assert odd is not None and odd.status == "40[31m1" and "secret" not in repr(odd)


# -- the core ----------------------------------------------------------------------------
@pytest.mark.parametrize("bytewise", [False, True])
def test_plain_with_initial_response(bytewise: bool) -> None:
    conn = greeted()
    assert conn.send_auth("PLAIN", b"\0user\0pass") == b"AUTH PLAIN AHVzZXIAcGFzcw==\r\n"
    assert conn.initial_response_sent
    evs = events(conn, b"+OK Logged in.\r\n", bytewise)
    assert len(evs) == 1 and isinstance(evs[0], Status) and evs[0].reply.ok
    assert evs[0].command == "AUTH" and conn.state is State.TRANSACTION


def test_empty_initial_response_is_an_equals_sign() -> None:
    assert greeted().send_auth("plain", b"") == b"AUTH PLAIN =\r\n"  # RFC 5034 §4


@pytest.mark.parametrize("bytewise", [False, True])
def test_xoauth2_long_token_waits_for_the_empty_challenge_then_error_reply(
        bytewise: bool) -> None:
    conn = greeted()
    mech = xoauth2("me@contoso.example", LONG_TOKEN)
    assert conn.send_auth("XOAUTH2", mech.initial) == b"AUTH XOAUTH2\r\n"  # > 255 octets
    assert not conn.initial_response_sent
    evs = events(conn, b"+ \r\n", bytewise)
    assert evs == [Challenge(b"", b"+ ")] and conn.state is State.AUTH_CONTINUE
    with pytest.raises(LocalProtocolError):
        conn.send_command("QUIT")  # the challenge must be answered first
    with pytest.raises(LocalProtocolError):
        conn.next_event()
    wire = conn.send_auth_response(mech.initial or b"")
    assert wire == base64.b64encode(mech.initial or b"") + b"\r\n" and len(wire) > MAX_COMMAND
    assert conn.state is State.AUTHORIZATION
    challenge = b"+ " + base64.b64encode(ERROR_JSON) + b"\r\n"
    evs = events(conn, challenge, bytewise)
    assert len(evs) == 1 and isinstance(evs[0], Challenge) and evs[0].data == ERROR_JSON
    assert conn.send_auth_response(mech.error_reply or b"") == b"\r\n"
    evs = events(conn, b"-ERR [AUTH] Authentication failure\r\n", bytewise)
    assert isinstance(evs[0], Status) and not evs[0].reply.ok
    assert conn.state is State.AUTHORIZATION  # may try again
    err = error_for_reply("AUTH", evs[0].reply.text, evs[0].reply.code)
    assert isinstance(err, AuthenticationError)


@pytest.mark.parametrize("bytewise", [False, True])
def test_oauthbearer_failure_is_answered_with_kvsep(bytewise: bool) -> None:
    conn = greeted()
    mech = oauthbearer("u@example.org", "tok123", "127.0.0.1", 995)
    line = conn.send_auth("OAUTHBEARER", mech.initial)
    assert line == b"AUTH OAUTHBEARER " + base64.b64encode(mech.initial or b"") + b"\r\n"
    evs = events(conn, b"+ " + base64.b64encode(ERROR_JSON) + b"\r\n", bytewise)
    assert isinstance(evs[0], Challenge)
    assert conn.send_auth_response(mech.error_reply or b"") == b"AQ==\r\n"
    evs = events(conn, b"-ERR [SYS/TEMP] try later\r\n", bytewise)
    assert isinstance(evs[0], Status) and evs[0].reply.code == "SYS/TEMP"
    err = error_for_reply("AUTH", evs[0].reply.text, evs[0].reply.code)
    assert isinstance(err, TemporaryFailure)


def test_cancel_and_bare_plus() -> None:
    conn = greeted()
    conn.send_auth("PLAIN")
    evs = events(conn, b"+\r\n", False)  # "+" alone: tolerated like "+ "
    assert evs == [Challenge(b"", b"+")]
    assert conn.cancel_auth() == b"*\r\n"
    evs = events(conn, b"-ERR cancelled\r\n", False)
    assert isinstance(evs[0], Status) and conn.state is State.AUTHORIZATION


def test_no_challenge_to_answer() -> None:
    conn = greeted()
    with pytest.raises(LocalProtocolError, match="no SASL challenge"):
        conn.send_auth_response(b"x")
    with pytest.raises(LocalProtocolError):
        conn.cancel_auth()


@pytest.mark.parametrize("name", ["", "PL AIN", "X" * 21, "PLAIN\r\nQUIT"])
def test_bad_mechanism_names(name: str) -> None:
    with pytest.raises(LocalProtocolError):
        greeted().send_auth(name)


def test_data_after_a_challenge_is_a_protocol_error() -> None:
    conn = greeted()
    conn.send_auth("PLAIN")
    conn.receive_data(b"+ \r\n+OK too soon\r\n")
    assert isinstance(conn.next_event(), Challenge)
    with pytest.raises(RemoteProtocolError, match="before the client's response"):
        conn.send_auth_response(b"\0u\0p")
    assert conn.state is State.ERROR

    conn = greeted()
    conn.send_auth("PLAIN")
    conn.receive_data(b"+ \r\n")
    assert isinstance(conn.next_event(), Challenge)
    with pytest.raises(RemoteProtocolError):
        conn.receive_data(b"+OK")


def test_bad_base64_challenge_and_challenge_outside_auth() -> None:
    conn = greeted()
    conn.send_auth("PLAIN")
    conn.receive_data(b"+ not*base64\r\n")
    with pytest.raises(RemoteProtocolError, match="base64"):
        conn.next_event()
    conn = greeted()
    conn.send_command("CAPA")
    conn.receive_data(b"+ \r\n")
    with pytest.raises(RemoteProtocolError, match="neither"):
        conn.next_event()


def test_auth_is_never_pipelined() -> None:
    conn = greeted()
    conn.send_command("CAPA")
    with pytest.raises(LocalProtocolError, match="pipelined"):
        conn.send_auth("PLAIN", b"\0u\0p")


@given(st.binary(max_size=300), st.sampled_from(["PLAIN", "XOAUTH2", "OAUTHBEARER"]))
def test_initial_response_fits_the_line_or_waits(ir: bytes, mech: str) -> None:
    """RFC 5034 §4 + RFC 2449 §4: the AUTH line is never over 255 octets; the
    initial response is on it, whole, or deferred to the empty challenge."""
    conn = greeted()
    line = conn.send_auth(mech, ir)
    assert len(line) <= MAX_COMMAND and line.endswith(b"\r\n")
    words = line[:-2].split(b" ")
    assert words[:2] == [b"AUTH", mech.encode()]
    if conn.initial_response_sent:
        assert base64.b64decode(words[2]) == ir and (words[2] == b"=") == (ir == b"")
    else:
        assert len(words) == 2 and len(base64.b64encode(ir)) + len(mech) + 8 > MAX_COMMAND
        conn.receive_data(b"+ \r\n")
        assert isinstance(conn.next_event(), Challenge)
        assert base64.b64decode(conn.send_auth_response(ir)) == ir


@given(st.lists(st.binary(min_size=0, max_size=600), min_size=1, max_size=4),
       st.integers(min_value=1, max_value=64))
def test_challenges_decode_under_any_chunking(payloads: list[bytes], size: int) -> None:
    conn = greeted()
    conn.send_auth("X-TEST")
    for payload in payloads:
        wire = b"+ " + base64.b64encode(payload) + b"\r\n"
        got: list[object] = []
        for i in range(0, len(wire), size):
            got += events(conn, wire[i:i + size], False)
        assert got == [Challenge(payload, wire[:-2])]
        conn.send_auth_response(b"")
    assert isinstance(events(conn, b"+OK\r\n", False)[0], Status)
    assert conn.state is State.TRANSACTION
