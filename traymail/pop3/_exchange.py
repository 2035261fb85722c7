"""The client's command/reply exchange, mixed into :class:`~traymail.pop3.POP3`.

Writes what the core (:class:`~traymail.pop3._connection.Connection`)
produces, reads at most 64 KiB at a time within each operation's deadline
(:mod:`._deadline`), and turns the core's events into status lines,
listings and bodies; socket/TLS failures become :class:`TransportError`.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from ._connection import (
    Connection,
    DataChunk,
    DataLine,
    DataLines,
    EndOfData,
    Event,
    NeedData,
    Status,
)
from ._deadline import Deadline
from ._errors import (
    LocalProtocolError,
    RemoteProtocolError,
    ServerError,
    TransportError,
    TransportTimeout,
    error_for_reply,
)
from ._transcript import Transcript

__all__ = ["Exchange", "READ_SIZE", "transport_error"]

READ_SIZE: Final = 65536
#: Linux: ask for an immediate ACK before each read. Without it, a server
#: that answers pipelined commands in separate small writes (Nagle on its
#: side) waits for our delayed ACK, up to 40 ms per exchange.
_QUICKACK: Final = getattr(socket, "TCP_QUICKACK", None)


class Exchange:
    """Sending commands and reading replies; the socket comes from the client class."""

    if TYPE_CHECKING:  # provided by POP3
        _conn: Connection
        _sock: socket.socket | None
        _deadline: Deadline
        _truncated: bool
        timeout: float
        transcript: Transcript
        close: Callable[[], None]
        _masked: Callable[[RemoteProtocolError], RemoteProtocolError]

    def _write(self, data: bytes) -> None:
        if self._sock is None:
            raise LocalProtocolError("the connection is closed")
        try:
            self._sock.sendall(data)
        except OSError as exc:
            self.close()
            raise transport_error(exc, "sending failed") from exc

    def _encode(self, verb: str, args: tuple[str, ...]) -> bytes:
        if not self._conn.pending:  # a new operation: a new deadline
            self._deadline.start(verb)
        try:
            data = self._conn.send_command(verb, *args)
        except RemoteProtocolError:
            self.close()
            raise
        self.transcript.client(verb, args)
        return data

    def _send(self, verb: str, *args: str) -> None:
        self._write(self._encode(verb, args))

    def _event(self) -> Event:
        """The next event, reading as needed within the operation's deadline
        (the time spent here counts, the caller's time between events not)."""
        conn, deadline = self._conn, self._deadline
        since = time.monotonic()
        try:
            while True:
                failure: RemoteProtocolError | None = None
                try:
                    event = conn.next_event()
                except RemoteProtocolError as exc:
                    self.close()
                    failure = self._masked(exc)
                if failure is not None:  # raised outside the handler: no unmasked context
                    raise failure
                if not isinstance(event, NeedData):
                    if isinstance(event, DataChunk):  # progress buys time
                        deadline.octets += len(event.data)
                    elif isinstance(event, DataLines):
                        deadline.octets += event.octets
                    elif isinstance(event, DataLine):
                        deadline.octets += len(event.line)
                    return event
                if self._sock is None:
                    raise LocalProtocolError("the connection is closed")
                now = time.monotonic()
                deadline.waited, since = deadline.waited + now - since, now
                budget = deadline.budget()
                if budget <= 0:
                    self.close()
                    raise deadline.expired()
                try:
                    if _QUICKACK is not None:
                        self._sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
                    if budget < self.timeout:
                        self._sock.settimeout(budget)
                    data = self._sock.recv(READ_SIZE)
                    if budget < self.timeout:
                        self._sock.settimeout(self.timeout)
                except OSError as exc:
                    self.close()
                    if budget < self.timeout and isinstance(exc, TimeoutError):
                        deadline.waited += time.monotonic() - since
                        since = time.monotonic()
                        raise deadline.expired() from None
                    raise transport_error(exc, "receiving failed") from exc
                conn.receive_data(data)
        finally:
            deadline.waited += time.monotonic() - since

    def _read_status(self) -> Status:
        event = self._event()
        if not isinstance(event, Status):
            raise RemoteProtocolError(f"expected a status line, got {type(event).__name__}")
        self.transcript.server(event.raw)
        return event

    def _command(self, verb: str, *args: str) -> Status:
        """Send one command and read its status line; -ERR raises."""
        self._send(verb, *args)
        return self._checked(self._read_status())

    def _checked(self, status: Status) -> Status:
        if not status.reply.ok:
            raise self._error(status)
        return status

    def _error(self, status: Status) -> ServerError:
        """The exception for a -ERR; its text never repeats a secret."""
        return error_for_reply(status.command, self.transcript.mask(status.reply.text),
                               status.reply.code)

    def _read_lines(self) -> list[str]:
        lines: list[str] = []
        while True:
            event = self._event()
            if isinstance(event, DataLines):
                lines += [line.decode("utf-8", "replace") for line in event.lines]
            elif isinstance(event, DataLine):
                lines.append(event.line.decode("utf-8", "replace"))
            elif isinstance(event, EndOfData):
                return lines
            else:  # pragma: no cover - the core never interleaves
                raise RemoteProtocolError("unexpected event in a listing")

    def _read_text(self) -> tuple[str, int]:
        """A listing as one text (lines joined by LF) and its line count: no
        object per line (a 100,000-line UIDL)."""
        pieces: list[bytes] = []
        count = 0
        while True:
            event = self._event()
            if isinstance(event, DataLines):
                pieces.append(b"\n".join(event.lines))
                count += len(event.lines)
            elif isinstance(event, DataLine):
                pieces.append(event.line)
                count += 1
            elif isinstance(event, EndOfData):
                return b"\n".join(pieces).decode("utf-8", "replace"), count
            else:  # pragma: no cover - the core never interleaves
                raise RemoteProtocolError("unexpected event in a listing")

    def _read_body(self, write: Callable[[bytes], object]) -> int:
        while True:
            event = self._event()
            if isinstance(event, DataChunk):
                write(event.data)
            elif isinstance(event, EndOfData):
                cut = f", cut to {self._conn.max_top}" if event.truncated else ""
                self.transcript.note(
                    f"[{event.command} body: {event.lines} lines, {event.octets} octets{cut}]"
                )
                self._truncated = event.truncated
                return event.octets
            else:  # pragma: no cover
                raise RemoteProtocolError("unexpected event in a message body")


def transport_error(exc: OSError, what: str) -> TransportError:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return TransportTimeout(f"{what}: timed out")
    ssl = sys.modules.get("ssl")  # never imported: no TLS error either
    if ssl is not None and isinstance(exc, ssl.SSLCertVerificationError):
        return TransportError(f"{what}: certificate verification failed: {exc.verify_message}")
    return TransportError(f"{what}: {exc.strerror or exc}")
