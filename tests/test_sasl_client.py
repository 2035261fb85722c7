"""AUTH PLAIN / XOAUTH2 / OAUTHBEARER through the blocking client against the
devserver: success, the failure challenge, codes, capabilities, faults, and
a transcript that never shows the exchange."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

import pytest

from traymail.devserver import DevServer, Faults
from traymail.pop3 import (
    MASK,
    POP3,
    AuthenticationError,
    CapabilityError,
    LocalProtocolError,
    RemoteProtocolError,
    State,
    TemporaryFailure,
    TranscriptEvent,
)

MakeServer = Callable[..., DevServer]
TOKEN = "ya29.a0AfH6SMB" + "Q" * 60
LONG_TOKEN = "EwBwA8l6BAAU" + "Z" * 1500


def connect(srv: DevServer, events: list[TranscriptEvent] | None = None) -> POP3:
    hook = events.append if events is not None else None
    return POP3("127.0.0.1", srv.port, timeout=5, transcript=hook)


def test_capa_lists_sasl(devserver: DevServer) -> None:
    with connect(devserver) as pop:
        assert pop.capa().sasl == ("PLAIN", "XOAUTH2", "OAUTHBEARER")


def test_auth_plain_logs_in_and_masks_everything(
        devserver: DevServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="traymail.pop3.wire")
    events: list[TranscriptEvent] = []
    with connect(devserver, events) as pop:
        assert pop.auth_plain("user", "pass") == "5 messages"
        assert pop.state is State.TRANSACTION and pop.stat().count == 5
    lines = [str(e) for e in events]
    assert f"C: AUTH PLAIN {MASK}" in lines and "S: +OK 5 messages" in lines
    secret_b64 = base64.b64encode(b"\0user\0pass").decode()
    text = "\n".join(lines) + caplog.text
    assert secret_b64 not in text and "\0pass" not in text
    assert devserver.commands[:2] == ["CAPA", "AUTH PLAIN"]  # the server log masks too


def test_auth_plain_wrong_password(devserver: DevServer) -> None:
    with connect(devserver) as pop:
        with pytest.raises(AuthenticationError) as info:
            pop.auth_plain("user", "nope")
        assert info.value.code == "AUTH" and info.value.command == "AUTH"
        assert pop.state is State.AUTHORIZATION
        pop.auth_plain("user", "pass")  # RFC 5034 §4: may try again
        assert pop.state is State.TRANSACTION


@pytest.mark.parametrize("token", [TOKEN, LONG_TOKEN], ids=["short", "long"])
@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
def test_bearer_tokens(make_devserver: MakeServer, mechanism: str, token: str) -> None:
    srv = make_devserver(tokens={token: "me@example.org"})
    events: list[TranscriptEvent] = []
    with connect(srv, events) as pop:
        pop.login("me@example.org", token, mechanism=mechanism)
        assert pop.state is State.TRANSACTION
    lines = [str(e) for e in events]
    text = "\n".join(lines)
    assert token not in text and token[:40] not in text
    if token is LONG_TOKEN:  # over 255 octets: AUTH alone, "+ ", the response line
        i = lines.index(f"C: AUTH {mechanism.upper()}")
        assert lines[i + 1:i + 4] == ["S: + ", f"C: {MASK} (initial response)",
                                      "S: +OK 5 messages"]
    else:
        assert f"C: AUTH {mechanism.upper()} {MASK}" in lines


@pytest.mark.parametrize("mechanism,answer", [("xoauth2", ""), ("oauthbearer", "AQ==")])
def test_bearer_failure_challenge_is_answered(make_devserver: MakeServer, mechanism: str,
                                              answer: str) -> None:
    """The error reply: "+ base64(JSON)", the client's empty line (XOAUTH2)
    or ^A (RFC 7628 §3.2.3), then -ERR -> AuthenticationError with the JSON."""
    srv = make_devserver(tokens={TOKEN: "me@example.org"})
    events: list[TranscriptEvent] = []
    with connect(srv, events) as pop:
        with pytest.raises(AuthenticationError) as info:
            pop.login("me@example.org", "expired-" + TOKEN, mechanism=mechanism)
        err = info.value
        assert err.code == "AUTH" and err.sasl_error is not None
        assert err.sasl_error.status == "401" and err.sasl_error.schemes == "bearer"
        assert pop.state is State.AUTHORIZATION
        pop.login("me@example.org", TOKEN, mechanism=mechanism)  # a fresh token works
    lines = [str(e) for e in events]
    i = next(k for k, line in enumerate(lines) if line.startswith("S: + "))
    assert lines[i].startswith(f"S: + {MASK} (")  # the JSON is not echoed raw...
    assert "failure from the server: status=401, schemes=bearer" in lines[i + 1]  # ...summarised
    assert lines[i + 2] == f"C: {MASK} (answer to the failure)"
    assert lines[i + 3] == "S: -ERR [AUTH] invalid token"


def test_oauthbearer_answer_is_kvsep_on_the_wire(make_devserver: MakeServer) -> None:
    """The devserver refuses anything but AQ== as the answer to the failure."""
    srv = make_devserver(tokens={})
    with connect(srv) as pop, pytest.raises(AuthenticationError, match="invalid token"):
        pop.auth_oauthbearer("u@example.org", TOKEN)


def test_sys_temp_is_a_temporary_failure(make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(errors={"AUTH": "-ERR [SYS/TEMP] auth backend down"}))
    with connect(srv) as pop, pytest.raises(TemporaryFailure):
        pop.auth_plain("user", "pass")


def test_missing_mechanism_is_a_capability_error(make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(sasl_mechanisms=("PLAIN",)))
    with connect(srv) as pop:
        with pytest.raises(CapabilityError, match=r"XOAUTH2 \(it offers: PLAIN\)"):
            pop.auth_xoauth2("u", TOKEN)
        assert "AUTH XOAUTH2" not in srv.commands  # nothing was sent
    srv2 = make_devserver(faults=Faults(omit=frozenset({"SASL"})))
    with connect(srv2) as pop, pytest.raises(CapabilityError, match="offers: none"):
        pop.login("user", "pass", mechanism="plain")
    assert not any(c.startswith(("USER", "PASS")) for c in srv2.commands)  # no fallback


def test_no_capa_still_tries_auth(make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(omit=frozenset({"CAPA"})))
    with connect(srv) as pop:
        pop.auth_plain("user", "pass")
        assert pop.state is State.TRANSACTION


def test_unknown_mechanism_name_in_login(devserver: DevServer) -> None:
    with connect(devserver) as pop, pytest.raises(LocalProtocolError, match="unknown login"):
        pop.login("user", "pass", mechanism="cram-md5")


def test_generic_auth_with_a_responder(devserver: DevServer) -> None:
    seen: list[bytes] = []

    def respond(challenge: bytes) -> bytes:
        seen.append(challenge)
        return b"\0user\0pass"

    with connect(devserver) as pop:
        pop.auth("plain", respond=respond)  # no initial response: "+ " asks for it
        assert seen == [b""] and pop.state is State.TRANSACTION


def test_responder_failure_cancels(devserver: DevServer) -> None:
    def respond(challenge: bytes) -> bytes:
        raise KeyError("no token")

    with connect(devserver) as pop:
        with pytest.raises(KeyError):
            pop.auth("PLAIN", respond=respond)
        assert pop.state is State.AUTHORIZATION  # "*" sent, -ERR read: still in sync
        pop.auth_plain("user", "pass")


def test_endless_challenges_are_bounded(make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(sasl_endless=True))
    with connect(srv) as pop, pytest.raises(RemoteProtocolError, match="more than 8"):
        pop.auth_plain("user", "pass")
    assert not pop.connected


def test_garbage_challenge(make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(raw={"AUTH_CHALLENGE": b"+ %%%\r\n"}))
    with connect(srv) as pop, pytest.raises(RemoteProtocolError, match="base64"):
        pop.auth_plain("user", "pass")
    assert not pop.connected


def test_echoed_token_in_err_is_masked(make_devserver: MakeServer) -> None:
    srv = make_devserver(tokens={TOKEN: "u"},
                         faults=Faults(errors={"AUTH": f"-ERR [AUTH] bad token {TOKEN}"}))
    events: list[TranscriptEvent] = []
    with connect(srv, events) as pop, pytest.raises(AuthenticationError) as info:
        pop.auth_xoauth2("u", TOKEN)
    assert TOKEN not in str(info.value) and MASK in str(info.value)
    assert TOKEN not in "\n".join(str(e) for e in events)
