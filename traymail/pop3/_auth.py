"""SASL authentication (RFC 5034), mixed into :class:`~traymail.pop3.POP3`.

The core (:mod:`._connection`) knows the states and the wire format; the
mechanisms (:mod:`._sasl`) know the messages; this drives one exchange:
send ``AUTH``, answer each ``+`` challenge, read the final ``+OK``/``-ERR``.
Nothing of the exchange reaches the transcript but its shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ._connection import Challenge, Connection, State, Status
from ._errors import (
    AuthenticationError,
    CapabilityError,
    LocalProtocolError,
    RemoteProtocolError,
    ServerError,
)
from ._replies import Capabilities
from ._sasl import (
    MAX_CHALLENGES,
    Mechanism,
    SaslError,
    b64encode,
    oauthbearer,
    parse_error_challenge,
    plain,
    xoauth2,
)
from ._transcript import Transcript

__all__ = ["Authenticating", "MECHANISMS"]

#: what ``login(..., mechanism=...)`` accepts, and what the secret then is
MECHANISMS = ("plain", "xoauth2", "oauthbearer")


class Authenticating:
    """The AUTH methods; the I/O they use comes from the client class."""

    if TYPE_CHECKING:  # provided by POP3
        _conn: Connection
        _caps: Capabilities | None
        host: str
        port: int
        transcript: Transcript
        close: Callable[[], None]
        capa: Callable[[], Capabilities]
        _write: Callable[[bytes], None]
        _event: Callable[[], object]
        _error: Callable[[Status], ServerError]
        _logged_in: Callable[[], None]

    def auth(self, mechanism: str | Mechanism, initial_response: bytes | None = None,
             respond: Callable[[bytes], bytes] | None = None) -> str:
        """Authenticate with a SASL mechanism (RFC 5034 §4).

        ``mechanism`` is a :class:`~._sasl.Mechanism` or a name with its
        ``initial_response`` and a ``respond(challenge) -> response``
        function. Raises :class:`CapabilityError` when CAPA lists SASL
        mechanisms without this one, :class:`AuthenticationError` (or
        :class:`TemporaryFailure` for ``[SYS/TEMP]``) on ``-ERR``."""
        if isinstance(mechanism, str):
            mech = Mechanism(mechanism.upper(), initial_response,
                             respond or (lambda _challenge: b""),
                             secrets=(b64encode(initial_response),) if initial_response else ())
        else:
            mech = mechanism
        self._check_mechanism(mech.name)
        for secret in mech.secrets:
            self.transcript.add_secret(secret)
        try:
            line = self._conn.send_auth(mech.name, mech.initial)
        except RemoteProtocolError:
            self.close()
            raise
        sent_ir = self._conn.initial_response_sent
        self.transcript.client("AUTH", (mech.name, "ir") if sent_ir else (mech.name,))
        self._write(line)
        return self._exchange(mech, pending_initial=mech.initial is not None and not sent_ir)

    def _exchange(self, mech: Mechanism, pending_initial: bool) -> str:
        failure: SaslError | None = None
        for _ in range(MAX_CHALLENGES + 1):
            event = self._event()
            if isinstance(event, Status):
                self.transcript.server(event.raw)
                if event.reply.ok:
                    self._logged_in()
                    return event.reply.text
                error = self._error(event)
                if isinstance(error, AuthenticationError):
                    error.sasl_error = failure
                raise error
            if not isinstance(event, Challenge):  # pragma: no cover - the core sends none
                raise RemoteProtocolError("unexpected event during AUTH")
            self.transcript.server_challenge(event.raw)
            if pending_initial:  # RFC 4422 §5: the initial response answers "+ "
                answer, what, pending_initial = mech.initial or b"", "initial response", False
            elif mech.error_reply is not None and (
                    found := parse_error_challenge(event.data)) is not None:
                failure = found
                self.transcript.note(self.transcript.mask(
                    f"{mech.name} failure from the server: {found.summary()}"))
                answer, what = mech.error_reply, "answer to the failure"
            else:
                try:
                    answer, what = mech.respond(event.data), "response"
                except Exception:
                    self._cancel()
                    raise
            self._write(self._conn.send_auth_response(answer))
            self.transcript.client_sasl(what)
        self.close()
        raise RemoteProtocolError(f"the server sent more than {MAX_CHALLENGES} SASL challenges")

    def _cancel(self) -> None:
        """Send ``*`` and read the ``-ERR`` that must follow (RFC 5034 §4)."""
        self._write(self._conn.cancel_auth())
        self.transcript.client_sasl("cancel")
        event = self._event()
        if isinstance(event, Status):
            self.transcript.server(event.raw)

    def _check_mechanism(self, name: str) -> None:
        """RFC 2449 §6.3: the SASL capability lists the mechanisms on offer."""
        if self._conn.state is not State.AUTHORIZATION:
            raise LocalProtocolError(f"AUTH is not allowed in state {self._conn.state.value}")
        caps = self._caps if self._caps is not None else self.capa()
        if not caps.supported:
            return  # no CAPA (RFC 1939-only server): AUTH may still work; the reply tells
        if name.upper() not in caps.sasl:
            offered = " ".join(caps.sasl) or "none"
            raise CapabilityError(f"the server does not offer SASL {name.upper()} "
                                  f"(it offers: {offered})")

    def auth_plain(self, user: str, password: str) -> str:
        """AUTH PLAIN (RFC 4616): user name and password in one message."""
        return self.auth(plain(user, password))

    def auth_xoauth2(self, user: str, access_token: str) -> str:
        """AUTH XOAUTH2 with an OAuth2 access token (Google, Microsoft)."""
        return self.auth(xoauth2(user, access_token))

    def auth_oauthbearer(self, user: str, access_token: str) -> str:
        """AUTH OAUTHBEARER (RFC 7628) with an OAuth2 access token."""
        return self.auth(oauthbearer(user, access_token, self.host, self.port))

    def _login_sasl(self, name: str, secret: str, mechanism: str) -> str:
        mech = mechanism.lower()
        if mech == "plain":
            return self.auth_plain(name, secret)
        if mech == "xoauth2":
            return self.auth_xoauth2(name, secret)
        if mech == "oauthbearer":
            return self.auth_oauthbearer(name, secret)
        raise LocalProtocolError(f"unknown login mechanism {mechanism!r} "
                                 f"(known: user/pass, {', '.join(MECHANISMS)})")
