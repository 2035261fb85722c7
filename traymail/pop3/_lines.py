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


class BodyReader:
    """Incremental decoder of one dot-terminated multi-line body."""

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
        if not raw:
            return None
        term = self._find_terminator(raw)
        if term is not None:
            start, stop = term
            region = bytes(raw[:start])
            del raw[:stop]
            self.done = True
            out = self._decode_complete(region) if region else b""
            return out
        last_lf = raw.rfind(b"\n")
        if last_lf >= 0:
            region = bytes(raw[: last_lf + 1])
            del raw[: last_lf + 1]
            out = self._decode_complete(region)
            self._at_line_start = True
            tail = self._decode_partial(buffer)
            return out + tail if tail else out
        return self._decode_partial(buffer)

    # -- internals -----------------------------------------------------

    def _find_terminator(self, raw: bytearray) -> tuple[int, int] | None:
        """Locate ``.CRLF`` / ``.LF`` at a line start: (body end, consumed)."""
        if self._at_line_start:
            if raw.startswith(b".\r\n"):
                return 0, 3
            if raw.startswith(b".\n"):
                return 0, 2
        best: tuple[int, int] | None = None
        i = raw.find(b"\n.\r\n")
        if i >= 0:
            best = (i + 1, i + 4)
        j = raw.find(b"\n.\n", 0, i + 1 if i >= 0 else len(raw))
        if j >= 0 and (best is None or j + 1 < best[0]):
            best = (j + 1, j + 3)
        return best

    def _decode_complete(self, region: bytes) -> bytes:
        """Decode complete lines (region ends with LF, or is the whole body)."""
        lf = region.count(b"\n")
        if lf != region.count(b"\r\n"):
            region = region.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if self._at_line_start and region.startswith(b".."):
            region = region[1:]
        if b"\n.." in region:
            region = region.replace(b"\n..", b"\n.")
        self.lines += lf
        self.octets += len(region)
        return region

    def _decode_partial(self, buffer: ReceiveBuffer) -> bytes:
        """Emit the decidable part of an unfinished line (no LF in buffer)."""
        raw = buffer.peek()
        n = len(raw)
        if n == 0:
            return b""
        if self._at_line_start and raw[0] == 0x2E:  # "."
            if n < 2 or (n == 2 and raw[1] == 0x0D):
                return b""  # could still be the terminator
            if raw[1] == 0x2E:
                del raw[:1]  # stuffed dot
                n -= 1
        # keep a trailing CR: it may pair with an LF in the next chunk
        keep = 1 if raw[n - 1] == 0x0D else 0
        if n - keep <= 0:
            return b""
        out = bytes(raw[: n - keep])
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
