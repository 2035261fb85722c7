"""Line framing for POP3 replies (RFC 1939 §3).

Two readers share one receive buffer:

* :meth:`ReceiveBuffer.take_line` returns one complete line without its
  line end (CRLF or a bare LF), refusing lines longer than a cap -- used for
  status lines and for the short listing lines of CAPA/LIST/UIDL.
* :class:`BodyReader` streams a multi-line body (RETR/TOP) in chunks of any
  size: dot-stuffing removed, bare LF turned into CRLF, terminator removed.
  It never buffers more than two bytes of an unfinished line, so a 1 MB line
  or a 100 MB message costs no memory beyond the chunk in hand.

The body reader works on whole regions with C-level ``bytes`` operations
instead of line by line, which is what makes streaming fast in Python.
"""

from __future__ import annotations

import re

from ._errors import RemoteProtocolError

__all__ = ["ReceiveBuffer", "BodyReader", "dot_stuff"]


class ReceiveBuffer:
    """Bytes received from the server and not yet consumed."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data = bytearray()

    def __len__(self) -> int:
        return len(self._data)

    def feed(self, data: bytes) -> None:
        self._data += data

    def take_line(self, max_length: int) -> bytes | None:
        """Return the next line without its line end, or None if incomplete.

        Raises RemoteProtocolError when the line exceeds ``max_length``
        octets (line end not counted) -- complete or not.
        """
        data = self._data
        end = data.find(b"\n", 0, max_length + 2)
        if end < 0:
            if len(data) > max_length + 1:
                raise RemoteProtocolError(f"line longer than {max_length} octets")
            return None
        stop = end - 1 if end > 0 and data[end - 1] == 0x0D else end
        if stop > max_length:
            raise RemoteProtocolError(f"line longer than {max_length} octets")
        line = bytes(data[:stop])
        del data[: end + 1]
        return line

    def take_lines(self, max_length: int) -> tuple[list[bytes], bool]:
        """Every complete line up to a lone ``.`` line (a listing's end, RFC
        1939 §3), without line ends, dot-stuffing removed: (lines, whether the
        ``.`` was among them;
        it is consumed, not returned). What follows the ``.`` stays (the
        next pipelined reply). Each line is held to ``max_length`` octets,
        the unfinished last one too, as :meth:`take_line` does."""
        data = self._data
        m = _LISTING_END.search(data)
        ended = m is not None
        if m is not None:
            stop = m.start() + (1 if data[m.start()] == 0x0A else 0)  # the last line's \n
            region, rest = bytes(data[:stop]), m.end()
        else:
            last = data.rfind(b"\n")
            region, rest = bytes(data[:last + 1]), last + 1
            if len(data) - rest > max_length + 1:
                raise RemoteProtocolError(f"line longer than {max_length} octets")
        del data[:rest]
        if not region:
            return [], ended
        if region.count(b"\n") == region.count(b"\r\n"):  # CRLF throughout
            lines = region.split(b"\r\n")
        else:
            lines = region.split(b"\n")
            if b"\r" in region:
                lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
        lines.pop()  # after the last line end
        if region[:1] == b"." or b"\n." in region:  # dot-stuffing (RFC 1939 §3)
            lines = [line[1:] if line[:2] == b".." else line for line in lines]
        if max(map(len, lines)) > max_length:
            raise RemoteProtocolError(f"line longer than {max_length} octets")
        return lines, ended

    def take_all(self) -> bytes:
        out = bytes(self._data)
        self._data.clear()
        return out

    def take(self, n: int) -> bytes:
        out = bytes(self._data[:n])
        del self._data[:n]
        return out

    def peek(self) -> bytearray:
        return self._data


#: the line "." ending a listing: at the start of the buffer or after a \n
_LISTING_END = re.compile(rb"(?:\A|\n)\.\r?\n")
_DOT_LINE = re.compile(rb"\n\.")  # re finds this 3x faster than bytes.find
_TERMINATOR = re.compile(rb"\n\.\r?\n")


class BodyReader:
    """Incremental decoder of one dot-terminated multi-line body.

    Fast path: a region of complete lines with no line starting with "." is
    passed on as it is (one regex scan and two byte counts). A region with
    such lines is unstuffed in one ``replace`` up to the terminator, which
    ends the body (RFC 1939 §3). Bare LF is turned into CRLF
    whenever a region holds fewer CRs than LFs.
    """

    __slots__ = ("_at_line_start", "done", "octets", "lines")

    def __init__(self) -> None:
        self._at_line_start = True
        self.done = False
        #: octets of decoded body produced so far
        self.octets = 0
        #: complete lines produced so far
        self.lines = 0

    def read(self, buffer: ReceiveBuffer) -> bytes | None:
        """Consume what can be decided from ``buffer``; return decoded bytes.

        Returns None when nothing can be produced yet (more data needed) or
        the body is done (``self.done``). Bytes after the terminator are left
        in the buffer: they belong to the next (pipelined) reply.
        """
        if self.done:
            return None
        raw = buffer.peek()
        end = raw.rfind(b"\n") + 1
        if end == 0:
            return self._decode_partial(raw)
        if self._at_line_start and raw[0] == 0x2E:  # a line starting with "."
            return self._dot_line(raw, raw.find(b"\n") + 1)
        stuffed = False
        m = _DOT_LINE.search(raw, 0, end)
        if m is not None:  # lines start with ".": unstuff them all at once ...
            stuffed = True
            t = _TERMINATOR.search(raw, m.start(), end)
            if t is not None:  # ... up to the terminator, left for the next call
                end = t.start() + 1
        chunk = bytes(memoryview(raw)[:end])
        del raw[:end]
        self._at_line_start = True
        if stuffed:
            chunk = chunk.replace(b"\n..", b"\n.")
        return self._emit(chunk)

    # -- internals -----------------------------------------------------

    def _emit(self, chunk: bytes) -> bytes:
        lf = chunk.count(b"\n")
        if lf and chunk.count(b"\r") < lf:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self.lines += lf
        self.octets += len(chunk)
        return chunk

    def _dot_line(self, raw: bytearray, stop: int) -> bytes | None:
        """A complete line starting with "." at the start of ``raw``."""
        line = bytes(raw[:stop])
        del raw[:stop]
        if line in (b".\r\n", b".\n"):
            self.done = True
            return None
        if line.startswith(b".."):
            line = line[1:]
        return self._emit(line)

    def _decode_partial(self, raw: bytearray) -> bytes | None:
        """Emit the decidable part of an unfinished line (no LF in buffer)."""
        n = len(raw)
        if n == 0:
            return None
        if self._at_line_start and raw[0] == 0x2E:  # "."
            if n < 2 or (n == 2 and raw[1] == 0x0D):
                return None  # could still be the terminator
            if raw[1] == 0x2E:
                del raw[:1]  # stuffed dot
                n -= 1
        # keep a trailing CR: it may pair with an LF in the next chunk
        keep = 1 if raw[n - 1] == 0x0D else 0
        if n - keep <= 0:
            return None
        out = bytes(memoryview(raw)[: n - keep])
        del raw[: n - keep]
        self._at_line_start = False
        self.octets += len(out)
        return out


def dot_stuff(body: bytes) -> bytes:
    """Encode a message for the wire: CRLF line ends, dots stuffed, terminator.

    The inverse of :class:`BodyReader` (used by the devserver and tests).
    """
    if body.count(b"\n") != body.count(b"\r\n"):
        body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if body.startswith(b"."):
        body = b"." + body
    body = body.replace(b"\n.", b"\n..")
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"
