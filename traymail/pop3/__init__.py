"""traymail.pop3 -- a POP3 client: sans-IO core, blocking client, typed results.

>>> with POP3_SSL("pop.example.com") as pop:        # doctest: +SKIP
...     pop.user("me"); pop.pass_("secret")
...     print(pop.stat())
"""

from __future__ import annotations

from ._connection import Challenge, Connection, State
from ._errors import (
    AuthenticationError,
    CapabilityError,
    LocalProtocolError,
    LoginDelayError,
    MailboxInUseError,
    PermanentFailure,
    POP3Error,
    ProtocolError,
    RemoteProtocolError,
    ServerError,
    TemporaryFailure,
    TransportError,
    TransportTimeout,
)
from ._replies import Capabilities, ScanListing, Stat, UniqueId
from ._sasl import Mechanism, SaslError, oauthbearer, plain, xoauth2
from ._transcript import MASK, Direction, TranscriptEvent, TranscriptHook
from .client import POP3, POP3_PORT, POP3_SSL, POP3_SSL_PORT

__all__ = [
    "POP3",
    "POP3_SSL",
    "POP3_PORT",
    "POP3_SSL_PORT",
    "Connection",
    "State",
    "Challenge",
    "Mechanism",
    "SaslError",
    "plain",
    "xoauth2",
    "oauthbearer",
    "Stat",
    "ScanListing",
    "UniqueId",
    "Capabilities",
    "Direction",
    "TranscriptEvent",
    "TranscriptHook",
    "MASK",
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
]
