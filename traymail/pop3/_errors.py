"""Exception family of traymail.pop3.

Every exception the library raises derives from :class:`POP3Error`, so a
caller can always catch one type. The split follows h11/httpcore:

* :class:`LocalProtocolError` -- *we* were asked to do something the protocol
  forbids (wrong state, CR/LF in an argument, over-long command).
* :class:`RemoteProtocolError` -- the *server* broke the framing.
* :class:`ServerError` -- the server answered ``-ERR``; subclasses by
  response code (RFC 2449 §8, RFC 3206).
* :class:`TransportError` -- the socket or TLS layer failed.

Messages never contain command arguments, so a password cannot leak through
an exception text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._sasl import SaslError

__all__ = [
    "POP3Error",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "ServerError",
    "AuthenticationError",
    "MailboxInUseError",
    "LoginDelayError",
    "TemporaryFailure",
    "PermanentFailure",
    "CapabilityError",
    "TransportError",
    "TransportTimeout",
    "error_for_reply",
]


class POP3Error(Exception):
    """Base class of every error raised by traymail.pop3."""


class ProtocolError(POP3Error):
    """The conversation broke the rules of RFC 1939."""


class LocalProtocolError(ProtocolError):
    """The caller asked for something the protocol does not allow here."""


class RemoteProtocolError(ProtocolError):
    """The server sent something that is not valid POP3 framing."""


class ServerError(POP3Error):
    """The server answered ``-ERR``.

    ``code`` is the RFC 2449 response code in upper case (``"IN-USE"``,
    ``"SYS/TEMP"``...) or ``None``; ``text`` is the human-readable rest.
    """

    def __init__(self, command: str, text: str, code: str | None = None) -> None:
        self.command = command
        self.text = text
        self.code = code
        shown = f"[{code}] {text}" if code else text
        super().__init__(f"{command} failed: -ERR {shown}".rstrip())


class AuthenticationError(ServerError):
    """``[AUTH]`` (RFC 3206 §4), or any -ERR to PASS/APOP/AUTH without another code.

    ``sasl_error`` holds the JSON of an XOAUTH2/OAUTHBEARER failure
    challenge (RFC 7628 §3.2.2) when the server sent one."""

    sasl_error: SaslError | None = None


class MailboxInUseError(ServerError):
    """``[IN-USE]`` (RFC 2449 §8.1.1): another session holds the maildrop."""


class LoginDelayError(ServerError):
    """``[LOGIN-DELAY]`` (RFC 2449 §8.1.2): logged in too soon."""


class TemporaryFailure(ServerError):
    """``[SYS/TEMP]`` (RFC 3206 §5): try again later."""


class PermanentFailure(ServerError):
    """``[SYS/PERM]`` (RFC 3206 §5): will not work without intervention."""


class CapabilityError(POP3Error):
    """The server lacks a capability the operation needs (TOP, UIDL, STLS...)."""


class TransportError(POP3Error):
    """The network or TLS layer failed; the connection is closed."""


class TransportTimeout(TransportError):
    """No data arrived (or could be sent) within the timeout."""


_BY_CODE: dict[str, type[ServerError]] = {
    "AUTH": AuthenticationError,
    "IN-USE": MailboxInUseError,
    "LOGIN-DELAY": LoginDelayError,
    "SYS/TEMP": TemporaryFailure,
    "SYS/PERM": PermanentFailure,
}

_AUTH_COMMANDS = frozenset({"PASS", "APOP", "AUTH"})


def error_for_reply(command: str, text: str, code: str | None) -> ServerError:
    """Build the most specific :class:`ServerError` for a ``-ERR`` reply."""
    cls = _BY_CODE.get(code or "")
    if cls is None:
        cls = AuthenticationError if command in _AUTH_COMMANDS else ServerError
    return cls(command, text, code)
