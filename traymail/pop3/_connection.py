"""The sans-IO POP3 client state machine.

Theory of operation
-------------------
A :class:`Connection` owns no socket. The caller turns a command into bytes
with :meth:`Connection.send_command`, writes them, feeds whatever it reads to
:meth:`Connection.receive_data` (``b""`` for EOF), and pulls events with
:meth:`Connection.next_event` until it gets :data:`NEED_DATA`.

Every command sent pushes an *expectation* (which command, what reply shape)
onto a FIFO; replies are matched to commands purely by order, which is what
makes pipelining (RFC 2449 §6.6) a matter of sending several commands before
reading. A reply is one status line (:class:`Status`), then for multi-line
commands that got ``+OK`` either :class:`DataLine` events (CAPA, LIST, UIDL)
or :class:`DataChunk` events (RETR, TOP), then :class:`EndOfData`. With
``bulk_lines`` set, a listing comes as :class:`DataLines` events instead, each
holding every complete line received so far (same checks, one event per
read instead of per line: a 100,000-line UIDL costs a few events, not
100,000).

The session state follows RFC 1939 §3: GREETING -> AUTHORIZATION ->
TRANSACTION -> UPDATE -> CLOSED. State changes when the *reply* arrives, so
commands that change it (USER/PASS/APOP/AUTH, STLS, QUIT) are never pipelined:
they may only be sent with nothing in flight, and nothing may be sent behind
them. After ``+OK`` to STLS the state is TLS_PENDING until the caller reports
the handshake done; any byte already received then is a protocol error
(plaintext injection, RFC 2595 §4 / CVE-2011-0411 class).

SASL (RFC 5034 §4): :meth:`Connection.send_auth` sends ``AUTH mechanism
[initial-response]``. A ``+ base64`` line answering it is a
:class:`Challenge`; the state is then AUTH_CONTINUE until the client answers
with :meth:`Connection.send_auth_response` or cancels with
:meth:`Connection.cancel_auth` (``*``), and only then may the server go on.
The final ``+OK``/``-ERR`` ends the exchange like a reply to PASS does.

Any RemoteProtocolError moves the connection to ERROR for good; every later
call raises LocalProtocolError. A ``-ERR`` is an ordinary reply, not an error
of the connection.

Bounds against a hostile server (all state is data here, so they hold for
any I/O layer): a status line is at most ``max_status_line`` octets; a
LIST/UIDL listing has at most STAT's count + :data:`LISTING_SLACK` lines
(``max_listing`` when no STAT was seen), a UIDL line at most
:data:`MAX_UIDL_LINE` octets, CAPA at most :data:`MAX_CAPA_LINES` lines; a
TOP reply keeps its first ``max_top`` octets and drops the rest
(``EndOfData.truncated``); a RETR or TOP body larger than
:func:`oversize_limit` of the size LIST gave for that message fails.
"""

from __future__ import annotations

import base64
from collections import deque
from dataclasses import dataclass

from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import (
    NEED_DATA,
    Challenge,
    ConnectionClosed,
    DataChunk,
    DataLine,
    DataLines,
    EndOfData,
    Event,
    NeedData,
    Status,
)
from ._lines import BodyReader, ReceiveBuffer
from ._replies import Reply, parse_status_line
from ._rules import (
    ALLOWED,
    LISTING_SLACK,
    MAX_CAPA_LINES,
    MAX_COMMAND,
    MAX_LISTING,
    MAX_STATUS_LINE,
    MAX_TOP,
    MAX_UIDL_LINE,
    SASL_TRANSITIONS,
    SHAPES,
    STATEFUL,
    Shape,
    State,
    oversize_limit,
)
from ._sasl import b64decode

__all__ = [
    "State",
    "Shape",
    "Connection",
    "Status",
    "DataLine",
    "DataLines",
    "DataChunk",
    "EndOfData",
    "ConnectionClosed",
    "Challenge",
    "NEED_DATA",
    "NeedData",
    "Event",
    "MAX_STATUS_LINE",
    "MAX_COMMAND",
    "MAX_TOP",
    "MAX_LISTING",
    "LISTING_SLACK",
    "MAX_UIDL_LINE",
    "MAX_CAPA_LINES",
    "oversize_limit",
]


@dataclass(slots=True)
class _Expect:
    command: str
    shape: Shape
    #: the message number of RETR/TOP, to look up its LIST size
    number: int | None = None


class Connection:
    """POP3 client protocol state, with no I/O."""

    def __init__(self, *, max_status_line: int = MAX_STATUS_LINE, max_top: int = MAX_TOP,
                 max_listing: int = MAX_LISTING) -> None:
        self.state = State.GREETING
        self.max_status_line = max_status_line
        self.max_top = max_top
        self.max_listing = max_listing
        #: the message count of the last STAT (bounds LIST/UIDL listings)
        self.stat_count: int | None = None
        #: message sizes from LIST (bound RETR/TOP bodies)
        self.sizes: dict[int, int] = {}
        self._limit: int | None = None  # lines of a listing / octets of a body
        self._kept = 0
        self._truncated = False
        self._buffer = ReceiveBuffer()
        self._eof = False
        self._pending: deque[_Expect] = deque([_Expect("GREETING", Shape.SINGLE)])
        self._in_data: _Expect | None = None
        self._body: BodyReader | None = None
        self._user_accepted = False
        self._tls = False
        #: set by the caller once CAPA announced PIPELINING (RFC 2449 §6.6)
        self.pipelining = False
        #: listings as DataLines (many lines per event) instead of DataLine
        self.bulk_lines = False
        self._listing_ended = False
        self._lines_seen = 0
        self._octets_seen = 0
        #: whether the AUTH line carried the initial response (RFC 5034 §4)
        self.initial_response_sent = False

    # -- introspection -----------------------------------------------------
    @property
    def pending(self) -> int:
        """Replies still expected (commands in flight, incl. one in data)."""
        return len(self._pending) + (1 if self._in_data else 0)

    @property
    def tls_active(self) -> bool:
        return self._tls

    # -- sending -----------------------------------------------------------
    def send_command(self, command: str, *args: str) -> bytes:
        """Validate a command for the current state and return its wire form."""
        self._check_usable()
        verb = command.upper()
        allowed = ALLOWED.get(self.state)
        if allowed is None or verb not in allowed:
            raise LocalProtocolError(f"{verb} is not allowed in state {self.state.value}")
        # RFC 2449 §6.6 lets a client pipeline USER and PASS (mpop does); the
        # reply to PASS then tells whether USER was accepted.
        user_in_flight = (
            self.pipelining and len(self._pending) == 1 and self._pending[0].command == "USER"
        )
        if verb == "PASS" and not (self._user_accepted or user_in_flight):
            raise LocalProtocolError("PASS must follow a USER that got +OK")
        if verb == "STLS" and self._tls:
            raise LocalProtocolError("TLS is already active")
        if not self.pending and len(self._buffer):
            self._fail("server sent data nobody asked for")
        if self.pending and not (verb == "PASS" and user_in_flight):
            if verb in STATEFUL:
                raise LocalProtocolError(
                    f"{verb} cannot be pipelined behind {self.pending} replies"
                )
            if self._pending and self._pending[-1].command in STATEFUL:
                raise LocalProtocolError(
                    "nothing may be pipelined behind a state-changing command"
                )
        for arg in args:
            if not arg or any(c in arg for c in "\r\n\0"):
                raise LocalProtocolError(f"{verb}: an argument is empty or contains CR, LF or NUL")
        line = " ".join((verb, *args)).encode("utf-8") + b"\r\n"
        if len(line) > MAX_COMMAND:
            raise LocalProtocolError(f"{verb}: command longer than {MAX_COMMAND} octets")
        shape = SHAPES.get(verb, Shape.SINGLE)
        if verb in ("LIST", "UIDL") and args:
            shape = Shape.SINGLE
        if verb == "USER":
            self._user_accepted = False
        if verb == "QUIT" and self.state is State.TRANSACTION:
            self.state = State.UPDATE  # RFC 1939 §6
        number = int(args[0]) if verb in ("RETR", "TOP") and args[0].isdigit() else None
        self._pending.append(_Expect(verb, shape, number))
        return line

    def send_auth(self, mechanism: str, initial_response: bytes | None = None) -> bytes:
        """``AUTH mechanism [initial-response]`` (RFC 5034 §4).

        The initial response goes on the AUTH line as base64 (``=`` when it
        is empty) unless that would make the line longer than the 255
        octets of RFC 2449 §4; then :attr:`initial_response_sent` is False
        and the client sends it as the answer to the server's empty
        challenge (RFC 4422 §5, "+ ")."""
        mech = mechanism.upper()
        if not mech or len(mech) > 20 or not all(c.isalnum() or c in "-_" for c in mech):
            raise LocalProtocolError("AUTH: not a SASL mechanism name (RFC 4422 §3.1)")
        args: tuple[str, ...] = (mech,)
        self.initial_response_sent = False
        if initial_response is not None:
            encoded = base64.b64encode(initial_response).decode("ascii") or "="
            if len(mech) + len(encoded) + len("AUTH  \r\n") <= MAX_COMMAND:
                args = (mech, encoded)
        line = self.send_command("AUTH", *args)
        self.initial_response_sent = len(args) == 2
        return line

    def send_auth_response(self, data: bytes) -> bytes:
        """Answer a :class:`Challenge`: one base64 line (RFC 5034 §4), an empty
        line for an empty response. Such lines are not bound by the 255
        octets of a command."""
        self._sasl_step("response")
        return base64.b64encode(data) + b"\r\n"

    def cancel_auth(self) -> bytes:
        """Abort the exchange with ``*`` (RFC 5034 §4); ``-ERR`` follows."""
        self._sasl_step("cancel")
        return b"*\r\n"

    def _sasl_step(self, what: str) -> None:
        self._check_usable()
        new = SASL_TRANSITIONS.get((self.state, what))
        if new is None:
            raise LocalProtocolError(f"no SASL challenge to answer in state {self.state.value}")
        if len(self._buffer):
            self._fail("server sent data after a SASL challenge, before the client's response")
        self.state = new

    def tls_started(self) -> None:
        """Report that the TLS handshake after STLS completed."""
        if self.state is not State.TLS_PENDING:
            raise LocalProtocolError("no STLS handshake is pending")
        self._tls = True
        self.state = State.AUTHORIZATION

    def mark_tls(self) -> None:
        """Record that the connection is TLS from the start (POP3S)."""
        self._tls = True

    # -- receiving ---------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the server; ``b""`` means EOF."""
        if self.state is State.ERROR:
            return
        if not data:
            self._eof = True
            return
        if self.state is State.TLS_PENDING:
            self._fail("server sent data after +OK to STLS, before the TLS handshake")
        self._buffer.feed(data)
        if self.state is State.AUTH_CONTINUE:
            self._fail("server sent data after a SASL challenge, before the client's response")

    def next_event(self) -> Event | NeedData:
        """Return the next event, or NEED_DATA; ConnectionClosed once closed."""
        if self.state is State.CLOSED:
            return ConnectionClosed()
        self._check_usable()
        try:
            return self._next_event()
        except RemoteProtocolError:
            self.state = State.ERROR
            raise

    def _next_event(self) -> Event | NeedData:
        if self._in_data is not None:
            return self._next_data_event(self._in_data)
        if self.state is State.AUTH_CONTINUE:
            raise LocalProtocolError("answer the SASL challenge before reading on")
        if not self._pending:
            if len(self._buffer):
                self._fail("server sent data nobody asked for")
            if self._eof:
                self.state = State.CLOSED
                return ConnectionClosed()
            return NEED_DATA
        line = self._buffer.take_line(self.max_status_line)
        if line is None:
            if self._eof:
                command = self._pending[0].command
                self._fail(f"connection closed while waiting for the reply to {command}")
            return NEED_DATA
        if self._pending[0].command == "AUTH" and (line == b"+" or line.startswith(b"+ ")):
            data = b64decode(line[2:])  # RFC 5034 §4: "+" SP [base64]
            self.state = SASL_TRANSITIONS[(self.state, "challenge")]
            return Challenge(data, line)
        expect = self._pending.popleft()
        reply = parse_status_line(line)
        self._transition(expect.command, reply)
        if reply.ok and expect.shape is Shape.SINGLE:
            self._learn(expect.command, reply.text)
        if reply.ok and expect.shape is not Shape.SINGLE:
            self._in_data = expect
            self._body = BodyReader() if expect.shape is Shape.BODY else None
            self._lines_seen = 0
            self._octets_seen = 0
            self._kept = 0
            self._truncated = False
            self._limit = self._data_limit(expect)
        return Status(expect.command, reply, line)

    def _learn(self, command: str, text: str) -> None:
        """Remember STAT's count and ``LIST n`` sizes (they bound later replies)."""
        if command in ("STAT", "LIST"):
            parts = text.split(None, 2)
            if len(parts) >= 2 and parts[0].isdecimal() and parts[1].isdecimal():
                if command == "STAT":
                    self.stat_count = int(parts[0])
                else:
                    self.sizes[int(parts[0])] = int(parts[1])

    def _data_limit(self, expect: _Expect) -> int | None:
        if expect.shape is Shape.BODY:
            size = self.sizes.get(expect.number) if expect.number is not None else None
            return None if size is None else oversize_limit(size)
        if expect.command == "CAPA":
            return MAX_CAPA_LINES
        if self.stat_count is not None:
            return min(self.max_listing, self.stat_count + LISTING_SLACK)
        return self.max_listing

    def _next_data_event(self, expect: _Expect) -> Event | NeedData:
        if self._body is not None:
            body = self._body
            while chunk := body.read(self._buffer):
                if self._limit is not None and body.octets > self._limit:
                    self._fail(f"{expect.command} {expect.number}: the server sent more than "
                               f"{self._limit} octets for a message LIST gave as "
                               f"{self.sizes.get(expect.number or 0)} octets")
                if expect.command == "TOP":
                    room = self.max_top - self._kept
                    if len(chunk) > room:
                        chunk, self._truncated = chunk[:max(0, room)], True
                    self._kept += len(chunk)
                if chunk:
                    return DataChunk(chunk)
            if body.done:
                self._in_data = self._body = None
                return EndOfData(expect.command, body.lines, body.octets, self._truncated)
        elif self.bulk_lines:
            return self._next_lines(expect)
        else:
            cap = MAX_UIDL_LINE if expect.command == "UIDL" else self.max_status_line
            line = self._buffer.take_line(cap)
            if line is not None:
                if line == b".":
                    self._in_data = None
                    return EndOfData(expect.command, self._lines_seen, self._octets_seen)
                if line.startswith(b".."):
                    line = line[1:]
                self._lines_seen += 1
                if self._limit is not None and self._lines_seen > self._limit:
                    known = (f" (STAT said {self.stat_count} messages)"
                             if expect.command != "CAPA" and self.stat_count is not None else "")
                    self._fail(f"{expect.command} listing longer than {self._limit} "
                               f"lines{known}")
                if expect.command == "LIST":
                    self._learn("LIST", line.decode("ascii", "replace"))
                self._octets_seen += len(line) + 2
                return DataLine(line)
        if self._eof:
            self._fail(f"connection closed in the middle of the reply to {expect.command}")
        return NEED_DATA

    def _next_lines(self, expect: _Expect) -> Event | NeedData:
        """Every complete listing line in the buffer as one DataLines event,
        then EndOfData; the same bounds as line by line."""
        if self._listing_ended:
            self._listing_ended = False
            self._in_data = None
            return EndOfData(expect.command, self._lines_seen, self._octets_seen)
        cap = MAX_UIDL_LINE if expect.command == "UIDL" else self.max_status_line
        lines, ended = self._buffer.take_lines(cap)
        if lines:
            self._lines_seen += len(lines)
            if self._limit is not None and self._lines_seen > self._limit:
                known = (f" (STAT said {self.stat_count} messages)"
                         if expect.command != "CAPA" and self.stat_count is not None else "")
                self._fail(f"{expect.command} listing longer than {self._limit} "
                           f"lines{known}")
            if expect.command == "LIST":
                for line in lines:
                    self._learn("LIST", line.decode("ascii", "replace"))
            octets = sum(map(len, lines)) + 2 * len(lines)
            self._octets_seen += octets
            self._listing_ended = ended
            return DataLines(tuple(lines), octets)
        if ended:
            self._in_data = None
            return EndOfData(expect.command, self._lines_seen, self._octets_seen)
        if self._eof:
            self._fail(f"connection closed in the middle of the reply to {expect.command}")
        return NEED_DATA

    def _transition(self, command: str, reply: Reply) -> None:
        """Apply the state change a reply causes (RFC 1939 §3-§6, RFC 2595 §4)."""
        if command == "GREETING":
            self.state = State.AUTHORIZATION if reply.ok else State.CLOSED
        elif not reply.ok:
            if command == "QUIT":  # RFC 1939 §6: -ERR to QUIT in UPDATE; session over
                self.state = State.CLOSED
            elif command in ("PASS", "APOP"):  # RFC 1939 §7: back to a fresh start
                self._user_accepted = False
        elif command == "USER":
            self._user_accepted = True
        elif command in ("PASS", "APOP", "AUTH"):
            self.state = State.TRANSACTION
        elif command == "STLS":
            self.state = State.TLS_PENDING
            if len(self._buffer):
                self._fail("server sent data after +OK to STLS, before the TLS handshake")
        elif command == "QUIT":
            self.state = State.CLOSED

    # -- helpers -----------------------------------------------------------
    def _check_usable(self) -> None:
        if self.state is State.ERROR:
            raise LocalProtocolError("the connection is broken after a protocol error")
        if self.state is State.CLOSED:
            raise LocalProtocolError("the connection is closed")

    def _fail(self, message: str) -> None:
        self.state = State.ERROR
        raise RemoteProtocolError(message)

    def leftover(self) -> int:
        """Bytes received and not yet consumed (for STLS checks and tests)."""
        return len(self._buffer)
