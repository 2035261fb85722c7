"""AUTH PLAIN (RFC 5034, RFC 4616) against a real Dovecot (``auth_mechanisms``
in tests/realservers.py lists ``plain``): the bytes on the wire, the masked
transcript, the empty challenge without an initial response, wrong
passwords, and PLAIN over POP3S and after STLS."""

from __future__ import annotations

import base64

import pytest

from traymail.pop3 import (
    MASK,
    POP3,
    POP3_SSL,
    AuthenticationError,
    CapabilityError,
    State,
    TranscriptEvent,
)

from .realservers import DovecotAccount


class Recording(POP3):
    """POP3 that keeps every byte it writes (to check the wire byte for byte)."""

    sent: list[bytes]

    def _write(self, data: bytes) -> None:
        self.__dict__.setdefault("sent", []).append(data)
        super()._write(data)


@pytest.mark.dovecot
def test_auth_plain_on_the_wire_and_masked(dovecot_account: DovecotAccount) -> None:
    acc = dovecot_account
    acc.add(b"Subject: hi\n\nhello\n")
    events: list[TranscriptEvent] = []
    with Recording(acc.host, acc.server.port, timeout=10, transcript=events.append) as pop:
        caps = pop.capa()
        assert "PLAIN" in caps.sasl
        assert pop.auth_plain(acc.user, acc.password).startswith("Logged in")
        assert pop.state is State.TRANSACTION and pop.stat().count == 1
        sent = list(pop.sent)
    ir = base64.b64encode(f"\0{acc.user}\0{acc.password}".encode())
    assert sent[:2] == [b"CAPA\r\n", b"AUTH PLAIN " + ir + b"\r\n"]  # byte for byte
    lines = [str(e) for e in events if e.text and e.direction.value != "*"]
    i = lines.index(f"C: AUTH PLAIN {MASK}")
    assert lines[i + 1] == "S: +OK Logged in."
    text = "\n".join(str(e) for e in events)
    assert acc.password not in text and ir.decode() not in text
    print("\n--- masked transcript, AUTH PLAIN against Dovecot ---\n" + text)


@pytest.mark.dovecot
def test_auth_plain_without_initial_response(dovecot_account: DovecotAccount) -> None:
    """No initial response: Dovecot sends "+ " and the response line follows."""
    acc = dovecot_account
    challenges: list[bytes] = []

    def respond(challenge: bytes) -> bytes:
        challenges.append(challenge)
        return f"\0{acc.user}\0{acc.password}".encode()

    events: list[TranscriptEvent] = []
    with Recording(acc.host, acc.server.port, timeout=10, transcript=events.append) as pop:
        pop.auth("PLAIN", respond=respond)
        assert pop.state is State.TRANSACTION
        sent = list(pop.sent)
    assert challenges == [b""]
    assert sent == [b"CAPA\r\n", b"AUTH PLAIN\r\n",
                    base64.b64encode(f"\0{acc.user}\0{acc.password}".encode()) + b"\r\n"]
    lines = [str(e) for e in events]
    i = lines.index("C: AUTH PLAIN")
    assert lines[i + 1:i + 4] == ["S: + ", f"C: {MASK} (response)", "S: +OK Logged in."]


@pytest.mark.dovecot
def test_auth_plain_wrong_password_then_right(dovecot_account: DovecotAccount) -> None:
    acc = dovecot_account
    with POP3(acc.host, acc.server.port, timeout=10) as pop:
        with pytest.raises(AuthenticationError) as info:
            pop.auth_plain(acc.user, "not the password")
        assert info.value.code == "AUTH" and "not the password" not in str(info.value)
        assert pop.state is State.AUTHORIZATION
        pop.auth_plain(acc.user, acc.password)
        assert pop.state is State.TRANSACTION


@pytest.mark.dovecot
def test_unoffered_mechanism_is_refused_locally(dovecot_account: DovecotAccount) -> None:
    acc = dovecot_account
    with POP3(acc.host, acc.server.port, timeout=10) as pop:
        offered = pop.capa().sasl
        if "XOAUTH2" in offered:  # the OAuth2 test bed may enable it; use a surely absent one
            with pytest.raises(CapabilityError, match="SCRAM-SHA-512"):
                pop.auth("SCRAM-SHA-512")
        else:
            with pytest.raises(CapabilityError, match="XOAUTH2"):
                pop.auth_xoauth2(acc.user, "token")
        pop.auth_plain(acc.user, acc.password)  # the session is still usable


@pytest.mark.dovecot
def test_auth_plain_over_pop3s_and_stls(dovecot_account: DovecotAccount) -> None:
    acc = dovecot_account
    cert = acc.server.cert
    with POP3_SSL("127.0.0.1", acc.server.ssl_port, timeout=10,
                  context=cert.client_context()) as pop:
        pop.login(acc.user, acc.password, mechanism="plain")
        assert pop.state is State.TRANSACTION
    with POP3("localhost", acc.server.port, timeout=10) as pop:
        pop.stls(cert.client_context())
        pop.login(acc.user, acc.password, mechanism="plain")
        assert pop.state is State.TRANSACTION
