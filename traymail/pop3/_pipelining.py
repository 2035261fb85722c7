"""Pipelined commands (RFC 2449 §6.6), mixed into :class:`~traymail.pop3.POP3`.

Batches of one command (TOP, RETR, DELE) keep a bounded window in flight;
STAT/UIDL/LIST go out together. Without PIPELINING everything is lock-step.
Replies are matched to commands by order (the core's FIFO of expectations).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import closing
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from ._connection import Connection, ConnectionClosed, EndOfData, State, Status
from ._errors import LocalProtocolError, RemoteProtocolError, ServerError
from ._replies import (
    Capabilities,
    ScanListing,
    Stat,
    TopReply,
    UniqueId,
    parse_scan_listing,
    parse_stat,
    unique_id_pairs,
)
from ._transcript import Transcript

__all__ = ["Pipelining", "Sink", "PIPELINE_MAX", "PIPELINE_REFILL", "PIPELINE_MAX_BYTES"]

#: Pipelining window (RFC 2449 §6.6). mpop keeps 100 in flight and refills at
#: 20, which costs a round trip per 80 messages on a slow link. Commands are
#: tiny, so we keep up to 1,000 in flight (refilling when half are answered)
#: and bound the unanswered command bytes well below any socket buffer, so
#: the write can never block against replies we are not yet reading.
PIPELINE_MAX: Final = 1000
PIPELINE_REFILL: Final = 500
PIPELINE_MAX_BYTES: Final = 16384
_T = TypeVar("_T")
_A = TypeVar("_A")


class Sink(Protocol):
    """Where a streamed body goes: anything with ``write(bytes)``."""

    def write(self, data: bytes, /) -> object: ...


class Pipelining:
    """The batch methods; the I/O they use comes from the client class."""

    if TYPE_CHECKING:  # provided by POP3
        _conn: Connection
        _truncated: bool
        _sock: Any
        transcript: Transcript
        stat: Callable[[], Stat]
        uidl: Callable[[], builtins.list[UniqueId]]
        list: Callable[[], builtins.list[ScanListing]]
        close: Callable[[], None]
        _write: Callable[[bytes], None]
        _encode: Callable[[str, tuple[str, ...]], bytes]
        _read_status: Callable[[], Status]
        _command: Callable[..., Status]
        _read_lines: Callable[[], builtins.list[str]]
        _read_text: Callable[[], tuple[str, int]]
        _read_body: Callable[[Callable[[bytes], object]], int]
        _error: Callable[[Status], ServerError]
        _event: Callable[[], Any]
        _ensure_capabilities: Callable[[], Capabilities]

    def _masked(self, exc: RemoteProtocolError) -> RemoteProtocolError:
        """``exc`` with any secret the server echoed masked (its text quotes it)."""
        text = self.transcript.mask(str(exc))
        if text != str(exc):
            exc = RemoteProtocolError(text)
        exc.__context__ = None
        return exc

    def _parse(self, parse: Callable[[_A], _T], text: _A) -> _T:
        try:
            return parse(text)
        except RemoteProtocolError as exc:
            error = self._masked(exc)
        raise error  # outside the handler: the unmasked one is not its __context__

    def scan(self, stat: bool = True, listing: bool = True
             ) -> tuple[Stat | None, builtins.list[UniqueId], builtins.list[ScanListing] | None]:
        """STAT, UIDL and LIST in one round trip when the server pipelines
        (RFC 2449 §6.6), else one after the other. UIDL's -ERR raises
        ServerError once every reply has been read (the session stays usable)."""
        st, pairs, sizes = self.scan_pairs(stat, listing)
        return st, [UniqueId(n, u) for n, u in pairs], sizes

    def scan_pairs(self, stat: bool = True, listing: bool = True
                   ) -> tuple[Stat | None, builtins.list[tuple[int, str]],
                              builtins.list[ScanListing] | None]:
        """:meth:`scan` with the UIDL listing as (number, uid) pairs: the same
        checks, no object per message (a 100,000-message check)."""
        verbs = [v for v, want in (("STAT", stat), ("UIDL", True), ("LIST", listing)) if want]
        if not self._conn.pipelining:
            st = self.stat() if stat else None
            self._command("UIDL")
            pairs = self._parse(unique_id_pairs, self._read_text())
            return st, pairs, (self.list() if listing else None)
        self._write(b"".join(self._encode(v, ()) for v in verbs))
        results: dict[str, Any] = {}
        error: ServerError | None = None
        for verb in verbs:
            status = self._read_status()
            if not status.reply.ok:
                error = error or self._error(status)
                continue
            if verb == "STAT":
                results[verb] = parse_stat(status.reply.text)
            else:
                if verb == "UIDL":
                    results[verb] = self._parse(unique_id_pairs, self._read_text())
                else:
                    results[verb] = [self._parse(parse_scan_listing, line)
                                     for line in self._read_lines()]
        if error is not None:
            raise error
        return (results.get("STAT"), results["UIDL"],
                results.get("LIST"))

    # -- pipelined batches (RFC 2449 §6.6) -------------------------------------
    def top_many(self, numbers: Iterable[int], lines: int = 0) -> Iterator[tuple[int, bytes]]:
        """``TOP n lines`` for each number, pipelined; yields (number, bytes) in order."""
        if lines < 0:
            raise LocalProtocolError("TOP needs a non-negative line count")
        nums = [int(n) for n in numbers]
        with closing(self._pipeline("TOP", [(_num(n), str(lines)) for n in nums], nums)) as replies:
            for number, _status in replies:
                parts: builtins.list[bytes] = []
                self._read_body(parts.append)
                yield number, TopReply(b"".join(parts), self._truncated)

    def retr_many(
        self, numbers: Iterable[int], sink_factory: Callable[[int], Sink]
    ) -> Iterator[tuple[int, int]]:
        """RETR each message into ``sink_factory(number)``; yields (number, octets)."""
        nums = [int(n) for n in numbers]
        with closing(self._pipeline("RETR", [(_num(n),) for n in nums], nums)) as replies:
            for number, _status in replies:
                sink = sink_factory(number)
                yield number, self._read_body(sink.write)

    def dele_many(self, numbers: Iterable[int]) -> builtins.list[int]:
        """DELE each number, pipelined; returns the numbers marked deleted."""
        nums = [int(n) for n in numbers]
        return [n for n, _status in self._pipeline("DELE", [(_num(n),) for n in nums], nums)]

    def _pipeline(
        self, verb: str, arglist: Sequence[tuple[str, ...]], keys: Sequence[int]
    ) -> Generator[tuple[int, Status], None, None]:
        """Send ``verb`` for each argument tuple within a bounded window.

        Yields (key, status) for each +OK; the consumer reads that reply's
        data before the next step. A -ERR stops sending, the replies still in
        flight are read and dropped, then the ServerError is raised.
        """
        if self._conn.state is not State.TRANSACTION:
            raise LocalProtocolError(f"{verb} is not allowed in state {self._conn.state.value}")
        pipelining = self._ensure_capabilities().pipelining
        high, low = (PIPELINE_MAX, PIPELINE_REFILL) if pipelining else (1, 0)
        if pipelining and arglist:
            per_command = len(verb) + 3 + sum(len(a) + 1 for a in arglist[-1])
            high = max(1, min(high, PIPELINE_MAX_BYTES // per_command))
            low = min(low, high // 2)
        total = len(arglist)
        if pipelining and total > 1:
            self.transcript.note(f"pipelining {total} {verb} commands, window {high}")
        sent = received = 0
        error: ServerError | None = None
        try:
            while received < total:
                if sent < total and sent - received <= low:
                    stop = min(total, received + high)
                    self._write(b"".join(self._encode(verb, arglist[i]) for i in range(sent, stop)))
                    sent = stop
                status = self._read_status()
                received += 1
                if not status.reply.ok:
                    error = self._error(status)
                    total = sent  # send nothing more; drain what is in flight
                    continue
                if error is None:
                    yield keys[received - 1], status
                elif status.command in ("TOP", "RETR"):
                    self._read_body(lambda _data: None)
        finally:
            if self._sock is not None and _usable(self._conn) and self._conn.pending:
                if verb == "RETR":
                    # interrupted (a sink failed, the caller stopped): reading
                    # megabytes only to drop them helps nobody. Closing without
                    # QUIT deletes nothing (RFC 1939 §6).
                    self.transcript.note("RETR batch interrupted; closing the connection")
                    self.close()
                else:
                    self._drain()
        if error is not None:
            raise error

    def _drain(self) -> None:
        """Read and drop every reply still in flight (after an early stop)."""
        while self._conn.pending:
            event = self._event()
            if isinstance(event, Status):
                self.transcript.server(event.raw)
            elif isinstance(event, EndOfData):
                self.transcript.note(f"[{event.command} body dropped: {event.octets} octets]")
            elif isinstance(event, ConnectionClosed):  # pragma: no cover
                break


def _num(number: int) -> str:
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise LocalProtocolError("message numbers are positive integers (RFC 1939 §5)")
    return str(number)


def _usable(conn: Connection) -> bool:
    return conn.state not in (State.ERROR, State.CLOSED)
