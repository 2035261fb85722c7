"""The devserver's maildrops: in memory, or a maildir on disk."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Message", "MemoryMailbox", "MaildirMailbox"]


@dataclass(frozen=True)
class Message:
    uid: str
    data: bytes  # the message as the server holds it: CRLF line ends


def _crlf(data: bytes) -> bytes:
    if data.count(b"\n") != data.count(b"\r\n"):
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data


class MemoryMailbox:
    """A maildrop held in memory; thread-safe."""

    def __init__(self, messages: Iterable[bytes] = ()) -> None:
        self._lock = threading.Lock()
        self._messages: list[Message] = []
        self._ids = itertools.count(1)
        for data in messages:
            self.add(data)

    def add(self, data: bytes, uid: str | None = None) -> str:
        with self._lock:
            uid = uid or f"mem-{next(self._ids):06d}"
            self._messages.append(Message(uid, _crlf(data)))
            return uid

    def snapshot(self) -> list[Message]:
        with self._lock:
            return list(self._messages)

    def delete(self, uids: Iterable[str]) -> None:
        gone = set(uids)
        with self._lock:
            self._messages = [m for m in self._messages if m.uid not in gone]

    def uids(self) -> list[str]:
        return [m.uid for m in self.snapshot()]

    def renumber(self) -> None:
        """Reverse the order of messages (tests: 'mailbox changed meanwhile')."""
        with self._lock:
            self._messages.reverse()

    def reuse_uid(self, old_uid: str, data: bytes) -> None:
        """Replace a message, keeping its UID (a broken server's behaviour)."""
        with self._lock:
            self._messages = [
                Message(m.uid, _crlf(data)) if m.uid == old_uid else m for m in self._messages
            ]


class MaildirMailbox:
    """A maildrop in a maildir (``cur`` and ``new``); UID = the unique file name."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        for sub in ("cur", "new", "tmp"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    def _files(self) -> list[Path]:
        files = [p for sub in ("cur", "new") for p in (self.path / sub).iterdir() if p.is_file()]
        return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))

    def add(self, data: bytes, uid: str | None = None) -> str:
        with self._lock:
            uid = uid or f"{time.time_ns()}.dev{os.getpid()}"
            tmp = self.path / "tmp" / uid
            tmp.write_bytes(data)
            os.replace(tmp, self.path / "new" / uid)
            return uid

    def snapshot(self) -> list[Message]:
        with self._lock:
            return [Message(p.name.split(":")[0], _crlf(p.read_bytes())) for p in self._files()]

    def delete(self, uids: Iterable[str]) -> None:
        gone = set(uids)
        with self._lock:
            for p in self._files():
                if p.name.split(":")[0] in gone:
                    p.unlink(missing_ok=True)

    def uids(self) -> list[str]:
        with self._lock:
            return [p.name.split(":")[0] for p in self._files()]
