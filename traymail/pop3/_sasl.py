"""SASL mechanisms for POP3 ``AUTH`` (RFC 5034): message encoders, no I/O.

* PLAIN (RFC 4616 §2): ``[authzid] NUL authcid NUL passwd``.
* XOAUTH2 (Google/Microsoft): ``user=U ^A auth=Bearer T ^A ^A``; a failure is
  a ``+`` challenge carrying base64 JSON, answered with an empty line, then
  ``-ERR``.
* OAUTHBEARER (RFC 7628 §3.1): a GS2 header ``n,a=U,`` then ``^A``-separated
  key/value pairs ending in ``^A^A``; a failure is a ``+`` challenge with
  base64 JSON (§3.2.2), answered with a single ``^A`` (§3.2.3), then ``-ERR``.

A :class:`Mechanism` says what to send first and how to answer each
challenge; the client drives the exchange.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from ._errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "Mechanism",
    "SaslError",
    "plain",
    "xoauth2",
    "oauthbearer",
    "b64encode",
    "b64decode",
    "parse_error_challenge",
    "MAX_CHALLENGES",
]

#: a hostile server may challenge forever; a well-behaved one needs at most 2
MAX_CHALLENGES: Final = 8
_KVSEP: Final = b"\x01"
_JSON_KEYS: Final = ("status", "schemes", "scope", "openid-configuration")


@dataclass(frozen=True, slots=True)
class SaslError:
    """The JSON a server sends in an XOAUTH2/OAUTHBEARER failure (RFC 7628 §3.2.2).

    Only the documented keys are kept, each a short text."""

    status: str | None = None
    schemes: str | None = None
    scope: str | None = None
    openid_configuration: str | None = None

    def summary(self) -> str:
        parts = [f"{k}={v}" for k, v in (("status", self.status), ("schemes", self.schemes),
                                         ("scope", self.scope)) if v]
        return ", ".join(parts) or "no details"


@dataclass(slots=True)
class Mechanism:
    """One mechanism's side of the exchange.

    ``initial`` is the client-first message (None: the mechanism has none);
    ``respond(challenge)`` returns the answer to a server challenge (decoded
    bytes), ``error_reply`` the answer to a failure challenge, after which
    the server must end with ``-ERR``. ``secrets`` are what the transcript
    and exception texts must never show."""

    name: str
    initial: bytes | None
    respond: Callable[[bytes], bytes]
    error_reply: bytes | None = None
    secrets: tuple[str, ...] = field(default=())


def _check_text(value: str, what: str) -> None:
    if not value or "\0" in value or any(c in value for c in "\r\n"):
        raise LocalProtocolError(f"{what} is empty or contains NUL, CR or LF")


def _no_more(_: bytes) -> bytes:
    # RFC 5034 §4: a challenge after the whole response is "additional data
    # with success" or an error; answer with an empty response.
    return b""


def plain(user: str, password: str, authzid: str = "") -> Mechanism:
    """AUTH PLAIN (RFC 4616 §2); an empty ``authzid`` means "act as ``user``"."""
    _check_text(user, "the user name")
    _check_text(password, "the password")
    if "\0" in authzid:
        raise LocalProtocolError("the authorization identity contains NUL")
    message = b"\0".join(s.encode("utf-8") for s in (authzid, user, password))
    return Mechanism("PLAIN", message, _no_more, None,
                     (password, b64encode(message)))


def xoauth2(user: str, access_token: str) -> Mechanism:
    """AUTH XOAUTH2 (Google, Microsoft): bearer token for ``user``."""
    _check_text(user, "the user name")
    _check_token(access_token)
    message = f"user={user}\x01auth=Bearer {access_token}\x01\x01".encode()
    return Mechanism("XOAUTH2", message, _no_more, b"",
                     (access_token, b64encode(message)))


def oauthbearer(user: str, access_token: str, host: str | None = None,
                port: int | None = None) -> Mechanism:
    """AUTH OAUTHBEARER (RFC 7628 §3.1); ``host``/``port`` name the server."""
    _check_text(user, "the user name")
    _check_token(access_token)
    # RFC 5801 §4: "," and "=" in a saslname are escaped as =2C and =3D
    saslname = user.replace("=", "=3D").replace(",", "=2C")
    pairs = []
    if host:
        pairs.append(f"host={host}")
    if port:
        pairs.append(f"port={port}")
    pairs.append(f"auth=Bearer {access_token}")
    message = (f"n,a={saslname}," + "".join("\x01" + p for p in pairs) + "\x01\x01").encode()
    return Mechanism("OAUTHBEARER", message, _no_more, _KVSEP,
                     (access_token, b64encode(message)))


def _check_token(token: str) -> None:
    # RFC 6750 §2.1 b64token: letters, digits and -._~+/ then optional '='
    _check_text(token, "the access token")
    if not token.isascii() or any(c.isspace() or c == "\x01" for c in token):
        raise LocalProtocolError("the access token contains spaces or non-ASCII characters")


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: bytes) -> bytes:
    """Decode a challenge strictly (RFC 4648 §4, no stray characters)."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RemoteProtocolError("a SASL challenge is not valid base64") from None


def parse_error_challenge(data: bytes) -> SaslError | None:
    """The RFC 7628 §3.2.2 JSON of a failure challenge, or None if it is not one."""
    if not data.startswith(b"{") or len(data) > 4096:
        return None
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(obj, dict):
        return None
    values: dict[str, str] = {}
    for key in _JSON_KEYS:
        value = obj.get(key)
        if isinstance(value, (str, int)):
            text = "".join(c for c in str(value)[:200] if c.isprintable())
            values[key.replace("-", "_")] = text
    return SaslError(**values)
