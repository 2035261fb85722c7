"""The devserver's ``AUTH`` (RFC 5034): PLAIN (RFC 4616), XOAUTH2 and
OAUTHBEARER (RFC 7628) against a table of access tokens.

A failed XOAUTH2/OAUTHBEARER login gets the failure challenge real servers
send (``+`` and base64 JSON, RFC 7628 §3.2.2), waits for the client's
answer (an empty line, or ``AQ==`` = ^A for OAUTHBEARER) and then ends with
``-ERR [AUTH]``. Faults: ``Faults.errors["AUTH"]`` replaces the final reply
of a good login, ``Faults.raw["AUTH_CHALLENGE"]`` replaces the first
challenge, ``Faults.sasl_endless`` challenges forever.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .devsession import Session

__all__ = ["MECHANISMS", "auth"]

MECHANISMS: Final = ("PLAIN", "XOAUTH2", "OAUTHBEARER")
#: what the failure challenge says (Gmail sends the same three keys)
FAILURE: Final = {"status": "401", "schemes": "bearer", "scope": "pop3"}


def _decode(text: str) -> bytes | None:
    if text == "=":
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _response(session: Session) -> bytes | None:
    """Read one client response line; None: cancelled, bad base64 or EOF."""
    line = session.readline()
    if line is None:
        return None
    if line == b"*":
        session.send(b"-ERR authentication cancelled\r\n")
        return None
    data = _decode(line.decode("ascii", "replace"))
    if data is None:
        session.send(b"-ERR invalid base64 in the response\r\n")
    return data


def _challenge(session: Session, data: bytes) -> None:
    session.send(b"+ " + base64.b64encode(data) + b"\r\n")


def _check_plain(session: Session, message: bytes) -> bool:
    parts = message.split(b"\0")
    if len(parts) != 3:
        return False
    authzid, user, password = (p.decode("utf-8", "replace") for p in parts)
    users = session.server.users
    return authzid in ("", user) and user in users and users[user] == password


def _bearer_user(mechanism: str, message: bytes) -> tuple[str, str] | None:
    """(user, token) from an XOAUTH2 or OAUTHBEARER client message."""
    text = message.decode("utf-8", "replace")
    if mechanism == "XOAUTH2":
        fields = text.split("\x01")
        if fields[-2:] != ["", ""]:
            return None
        kv = dict(f.split("=", 1) for f in fields[:-2] if "=" in f)
        user = kv.get("user")
    else:  # RFC 7628 §3.1: gs2-header kvsep *kvpair kvsep
        header, sep, rest = text.partition("\x01")
        gs2 = header.split(",")
        if not sep or len(gs2) != 3 or gs2[0] not in ("n", "y") or not rest.endswith("\x01"):
            return None
        user = gs2[1][2:].replace("=2C", ",").replace("=3D", "=") if gs2[1][:2] == "a=" else None
        kv = dict(f.split("=", 1) for f in rest[:-1].split("\x01") if "=" in f)
    auth = kv.get("auth", "")
    if user is None or not auth.lower().startswith("bearer "):
        return None
    return user, auth[7:]


def auth(session: Session, arg: str) -> None:
    """Serve one ``AUTH`` command."""
    faults = session.server.faults
    if session.authed:
        session.send(b"-ERR already authenticated\r\n")
        return
    mechanism, _, initial = arg.partition(" ")
    mechanism = mechanism.upper()
    offered = faults.sasl_mechanisms if faults.sasl_mechanisms is not None else MECHANISMS
    if mechanism not in offered or "SASL" in faults.omit:
        session.send(b"-ERR unrecognized authentication type\r\n")
        return
    if "AUTH_CHALLENGE" in faults.raw:
        session.send(faults.raw["AUTH_CHALLENGE"])
        if _response(session) is None:
            return
    while faults.sasl_endless:
        _challenge(session, b"more?")
        if _response(session) is None:
            return
    message = _decode(initial) if initial else None
    if initial and message is None:
        session.send(b"-ERR invalid base64 in the initial response\r\n")
        return
    if message is None:  # no initial response: an empty challenge asks for it
        session.send(b"+ \r\n")
        message = _response(session)
        if message is None:
            return
    if mechanism == "PLAIN":
        if not _check_plain(session, message):
            session.send(b"-ERR [AUTH] invalid user name or password\r\n")
            return
    else:
        found = _bearer_user(mechanism, message)
        tokens = session.server.tokens
        if found is None or tokens.get(found[1]) != found[0]:
            _challenge(session, json.dumps(FAILURE).encode())
            answer = _response(session)
            expected = b"\x01" if mechanism == "OAUTHBEARER" else b""
            if answer is None:
                return
            if answer != expected:
                session.send(b"-ERR [AUTH] bad answer to the failure challenge\r\n")
                return
            session.send(b"-ERR [AUTH] invalid token\r\n")
            return
    session._login("AUTH")
