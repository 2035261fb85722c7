"""Blocking POP3 clients over the sans-IO core: :class:`POP3` and :class:`POP3_SSL`.

This layer only moves bytes: it connects, writes what the
:class:`~traymail.pop3._connection.Connection` produces, reads at most 64 KiB
at a time, maps socket/TLS failures to :class:`TransportError`, and reports
every line to the transcript. Protocol rules live in the core; the
command/reply exchange in :mod:`._exchange`, AUTH in :mod:`._auth`, batches
in :mod:`._pipelining`.
"""

from __future__ import annotations

import builtins
import socket
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, overload

from ._auth import Authenticating
from ._connection import MAX_TOP, Connection, State
from ._deadline import GRACE, MIN_RATE, Deadline
from ._errors import CapabilityError, LocalProtocolError, POP3Error
from ._exchange import _QUICKACK, Exchange, transport_error
from ._pipelining import Pipelining, Sink, _num
from ._replies import (
    Capabilities,
    ScanListing,
    Stat,
    TopReply,
    UniqueId,
    apop_timestamp,
    parse_capabilities,
    parse_scan_listing,
    parse_stat,
    parse_unique_id,
    parse_unique_ids,
    scan_sizes,
)
from ._transcript import Transcript, TranscriptHook

if TYPE_CHECKING:  # ssl is imported by the first TLS connection (1 MiB a plain one skips)
    import ssl

__all__ = ["POP3", "POP3_SSL", "POP3_PORT", "POP3_SSL_PORT", "fingerprint"]

POP3_PORT: Final = 110
POP3_SSL_PORT: Final = 995


class POP3(Exchange, Authenticating, Pipelining):
    """A POP3 session over plain TCP (RFC 1939). Connects in the constructor."""

    default_port: int = POP3_PORT

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        timeout: float = 30.0,
        transcript: TranscriptHook | None = None,
        deadline: float = GRACE,
        min_rate: float = MIN_RATE,
        max_top: int = MAX_TOP,
        secrets: tuple[str, ...] = (),
    ) -> None:
        """``timeout`` bounds each read; ``deadline`` and ``min_rate`` each
        operation (see :mod:`._deadline`); ``max_top`` the octets a TOP reply
        keeps; ``secrets`` are masked in the transcript from the greeting on."""
        if timeout is None or timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        self.host = host.strip("[]")
        self.port = self.default_port if port is None else port
        self.timeout = timeout
        self.transcript = Transcript(transcript, secrets)
        self._deadline = Deadline(deadline, min_rate)
        self._conn = Connection(max_top=max_top)
        self._conn.bulk_lines = True  # a listing in a few events, not one per line
        self._truncated = False
        self._caps: Capabilities | None = None
        self._caps_after_login = False
        self._sock: socket.socket | None = None
        self.greeting = ""
        self._open()

    # -- connection ------------------------------------------------------
    def _open(self) -> None:
        self.transcript.note(f"connecting to {self.host} port {self.port}")
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise transport_error(exc, f"cannot connect to {self.host}:{self.port}") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = sock.getpeername()[0]
            self._sock = self._wrap(sock)
        except OSError as exc:
            sock.close()
            raise transport_error(exc, "TLS handshake failed") from exc
        self.transcript.note(f"connected to {peer}")
        status = self._read_status()
        self.greeting = status.reply.text
        if not status.reply.ok:
            self.close()
            raise self._error(status)

    def _wrap(self, sock: socket.socket) -> socket.socket:
        return sock

    def _note_tls(self, sock: ssl.SSLSocket) -> None:
        cipher = sock.cipher()
        self.transcript.note(
            f"TLS established: {sock.version()}, {cipher[0] if cipher else '?'}"
        )

    @property
    def state(self) -> State:
        return self._conn.state

    @property
    def connected(self) -> bool:
        return self._sock is not None

    @property
    def peer_sha256(self) -> str | None:
        """SHA-256 fingerprint of the server's TLS certificate (AA:BB:...), or None."""
        sock = self._sock
        ssl = sys.modules.get("ssl")  # never imported: no TLS socket either
        if ssl is None or not isinstance(sock, ssl.SSLSocket):
            return None
        der = sock.getpeercert(binary_form=True)
        return fingerprint(der) if der else None

    @property
    def capabilities(self) -> Capabilities | None:
        """The last CAPA result still valid in this state, or None."""
        return self._caps

    def close(self) -> None:
        """Close the socket without QUIT (the server deletes nothing, RFC 1939 §6)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
            self.transcript.note("connection closed")
        if self._conn.state not in (State.CLOSED, State.ERROR):
            self._conn.state = State.CLOSED

    def __enter__(self) -> POP3:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._sock is None:
            return
        try:
            if exc_type is None:
                if self._conn.state in (State.AUTHORIZATION, State.TRANSACTION):
                    self.quit()
            elif self._conn.state is State.TRANSACTION and self._conn.pending == 0:
                self.rset()  # a failure must never commit a DELE
                self.quit()
        except POP3Error:
            pass
        finally:
            self.close()

    # -- authorization (RFC 1939 §7) ------------------------------------------
    def user(self, name: str) -> str:
        return self._command("USER", name).reply.text

    def pass_(self, password: str) -> str:
        self.transcript.add_secret(password)
        text = self._command("PASS", password).reply.text
        self._logged_in()
        return text

    def login(self, name: str, password: str, mechanism: str | None = None) -> str:
        """USER + PASS; pipelined in one write when CAPA announced PIPELINING
        (and the platform can avoid the delayed-ACK stall that would cost).

        ``mechanism`` ("plain", "xoauth2", "oauthbearer") logs in with that
        SASL mechanism instead (``password`` is then the password or the
        access token); its failure is final -- never a silent USER/PASS."""
        if mechanism is not None:
            return self._login_sasl(name, password, mechanism)
        if not self._conn.pipelining or _QUICKACK is None:
            self.user(name)
            return self.pass_(password)
        self.transcript.add_secret(password)
        self._write(self._encode("USER", (name,)) + self._encode("PASS", (password,)))
        user, pass_ = self._read_status(), self._read_status()
        self._checked(user)
        text = self._checked(pass_).reply.text
        self._logged_in()
        return text

    def _logged_in(self) -> None:
        """After login the capability list may grow (RFC 2449 §5; Gmail adds
        PIPELINING and TOP only then). What was announced before stays valid,
        so like mpop we re-read CAPA only when PIPELINING was not announced."""
        self._caps_after_login = False

    def apop(self, name: str, secret: str) -> str:
        """Log in with APOP (RFC 1939 §7): MD5 of the greeting's timestamp + secret."""
        stamp = apop_timestamp(self.greeting)
        if stamp is None:
            raise CapabilityError("the greeting has no APOP timestamp")
        import hashlib  # (APOP only: _hashlib is ~3 ms of a cold start)

        digest = hashlib.md5((stamp + secret).encode("utf-8")).hexdigest()
        self.transcript.add_secret(secret)
        self.transcript.add_secret(digest)
        text = self._command("APOP", name, digest).reply.text
        self._logged_in()
        return text

    def capa(self) -> Capabilities:
        """Ask for capabilities (RFC 2449 §5); -ERR gives ``supported=False``."""
        self._send("CAPA")
        status = self._read_status()
        if status.reply.ok:
            caps = parse_capabilities(self._read_lines())
        else:
            caps = Capabilities({}, supported=False)
        self._caps = caps
        self._caps_after_login = self._conn.state is State.TRANSACTION
        self._conn.pipelining = caps.pipelining
        self.transcript.note("capabilities: " + (" ".join(caps.entries) or "(none)"))
        return caps

    def _ensure_capabilities(self) -> Capabilities:
        caps = self._caps
        if caps is None or (not caps.pipelining and not self._caps_after_login):
            caps = self.capa()
        return caps

    def stls(self, context: ssl.SSLContext | None = None) -> str:
        """Upgrade to TLS (RFC 2595 §4); capabilities are forgotten afterwards."""
        caps = self._caps
        if caps is not None and caps.supported and not caps.stls:
            raise CapabilityError("the server does not offer STLS")
        text = self._command("STLS").reply.text
        import ssl

        ctx = context or ssl.create_default_context()
        assert self._sock is not None
        try:
            tls = ctx.wrap_socket(self._sock, server_hostname=self.host)
        except OSError as exc:
            self.close()
            raise transport_error(exc, "TLS handshake failed") from exc
        self._sock = tls
        self._conn.tls_started()
        self._caps = None  # RFC 2595 §4: forget everything learnt before TLS
        self._conn.pipelining = False
        self._note_tls(tls)
        return text

    # -- transaction (RFC 1939 §5) ---------------------------------------------
    def stat(self) -> Stat:
        return parse_stat(self._command("STAT").reply.text)

    @overload
    def list(self) -> builtins.list[ScanListing]: ...
    @overload
    def list(self, number: int) -> ScanListing: ...
    def list(self, number: int | None = None) -> builtins.list[ScanListing] | ScanListing:
        if number is not None:
            return self._parse(parse_scan_listing, self._command("LIST", _num(number)).reply.text)
        self._command("LIST")
        return [self._parse(parse_scan_listing, line) for line in self._read_lines()]

    def list_sizes(self) -> dict[int, int]:
        """LIST as {number: size}, the listing read and parsed whole (a
        100,000-message mailbox: no object per message)."""
        self._command("LIST")
        return self._parse(scan_sizes, self._read_text())

    @overload
    def uidl(self) -> builtins.list[UniqueId]: ...
    @overload
    def uidl(self, number: int) -> UniqueId: ...
    def uidl(self, number: int | None = None) -> builtins.list[UniqueId] | UniqueId:
        if number is not None:
            return self._parse(parse_unique_id, self._command("UIDL", _num(number)).reply.text)
        self._command("UIDL")
        return self._parse(parse_unique_ids, self._read_text())

    def top(self, number: int, lines: int) -> bytes:
        """Headers plus ``lines`` body lines (RFC 1939 §7)."""
        if lines < 0:
            raise LocalProtocolError("TOP needs a non-negative line count")
        self._command("TOP", _num(number), str(lines))
        parts: builtins.list[bytes] = []
        self._read_body(parts.append)
        return TopReply(b"".join(parts), self._truncated)

    @overload
    def retr(self, number: int) -> bytes: ...
    @overload
    def retr(self, number: int, sink: Sink) -> int: ...
    def retr(self, number: int, sink: Sink | None = None) -> bytes | int:
        """The whole message; with ``sink``, streamed into it (returns octets)."""
        self._command("RETR", _num(number))
        if sink is not None:
            return self._read_body(sink.write)
        parts: builtins.list[bytes] = []
        self._read_body(parts.append)
        return b"".join(parts)

    def dele(self, number: int) -> str:
        return self._command("DELE", _num(number)).reply.text

    def noop(self) -> str:
        return self._command("NOOP").reply.text

    def rset(self) -> str:
        return self._command("RSET").reply.text

    def quit(self, wait: bool = True) -> str:
        """End the session; in TRANSACTION the server now applies DELE (§6).

        ``wait=False`` sends QUIT and closes without reading the reply: one
        round trip less for sessions that deleted nothing (there is nothing
        to confirm). Never use it after DELE."""
        try:
            if not wait:
                self._send("QUIT")
                return ""
            return self._command("QUIT").reply.text
        finally:
            self.close()

class POP3_SSL(POP3):
    """A POP3 session over implicit TLS (RFC 8314 §3.3), port 995 by default.

    The certificate is verified against the system store and the host name
    unless ``context`` says otherwise (pass one built with ``cafile=`` for a
    private CA).
    """

    default_port: int = POP3_SSL_PORT

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        timeout: float = 30.0,
        context: ssl.SSLContext | None = None,
        transcript: TranscriptHook | None = None,
        **limits: Any,
    ) -> None:
        import ssl

        self.context = context or ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, transcript=transcript, **limits)

    def _wrap(self, sock: socket.socket) -> socket.socket:
        tls = self.context.wrap_socket(sock, server_hostname=self.host)
        self._conn.mark_tls()
        self._note_tls(tls)
        return tls

    def stls(self, context: ssl.SSLContext | None = None) -> str:
        raise LocalProtocolError("STLS on a connection that is already TLS")


def fingerprint(der: bytes) -> str:
    """The SHA-256 fingerprint of a DER certificate, as browsers show it."""
    import hashlib

    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
