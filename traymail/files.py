"""The files the engine writes: downloads (temp file, fsync, atomic rename to
a readable ``.eml`` name) and the per-account transcript logs (rotating,
already masked lines only)."""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from .i18n import _, ngettext
from .pop3 import POP3, POP3Error, State
from .private import PrivateRotatingFileHandler, create_private, private_dir
from .session import AccountState, MailboxError
from .store import StoredHeader
from .text import clean_filename

__all__ = ["DownloadCancelled", "DownloadFailed", "ProgressFile", "file_logger",
           "close_file_logger", "safe_filename", "fit_name", "eml_path", "abort"]

Progress = Callable[[int, int], None]


class DownloadCancelled(MailboxError):
    def __init__(self) -> None:
        super().__init__(_("download cancelled"), AccountState.OK)


_FILE_LOGGERS: dict[str, logging.Logger] = {}
_FILE_LOGGERS_LOCK = threading.Lock()


def _log_path(log_dir: Path, account: str) -> tuple[str, Path]:
    safe = re.sub(r"[^\w.-]", "_", account) or "account"
    return safe, log_dir / f"{safe}.log"


def file_logger(log_dir: Path, account: str) -> logging.Logger:
    """A rotating transcript file per account (already masked lines only).

    The file is opened at the first write (``delay``) and closed again by
    :func:`close_file_logger` after every session, so no handle stays open
    between checks (Windows cannot delete or rotate a file that is open)."""
    safe, path = _log_path(log_dir, account)
    with _FILE_LOGGERS_LOCK:
        logger = _FILE_LOGGERS.get(str(path))
        if logger is None:
            private_dir(log_dir)
            logger = logging.getLogger(f"traymail.transcript.{safe}.{len(_FILE_LOGGERS)}")
            logger.propagate = False
            logger.setLevel(logging.INFO)
            handler = PrivateRotatingFileHandler(
                path, maxBytes=1_000_000, backupCount=3, encoding="utf-8", delay=True)
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)
            _FILE_LOGGERS[str(path)] = logger
        return logger


def close_file_logger(log_dir: Path, account: str) -> None:
    """Close the account's transcript file; a later write opens it again."""
    with _FILE_LOGGERS_LOCK:
        logger = _FILE_LOGGERS.get(str(_log_path(log_dir, account)[1]))
    for handler in list(logger.handlers) if logger is not None else []:
        handler.close()


def safe_filename(text: str, limit: int = 80) -> str:
    """A file-name component (:func:`traymail.text.clean_filename`: controls,
    bidi, Windows' forbidden characters and device names defused), at most
    ``limit`` characters; :func:`fit_name` then cuts it by bytes/units."""
    return clean_filename(text)[:limit].rstrip(" .") or "message"


#: the longest file name traymail writes: in bytes of the filesystem encoding
#: on POSIX (most file systems allow 255), in UTF-16 code units on Windows
NAME_BYTES = 200
NAME_UNITS = 255
#: Windows' MAX_PATH: a whole path, its terminating NUL included
MAX_PATH = 260


def fit_name(stem: str, suffix: str, directory: str, *, platform: str | None = None,
             encoding: str | None = None) -> str:
    """``stem + suffix`` with ``stem`` cut at a character boundary so the name
    fits: <= NAME_BYTES bytes in the filesystem encoding (POSIX), or <= 255
    UTF-16 units with ``directory`` + name under MAX_PATH (Windows). A pure
    function: ``platform`` and ``encoding`` default to this machine's."""
    if (platform or sys.platform) == "win32":
        def cost(s: str) -> int:
            return len(s.encode("utf-16-le", "surrogatepass")) // 2
        path_room = MAX_PATH - 1 - cost(directory.rstrip("\\/")) - 1  # NUL, separator
        budget = min(NAME_UNITS, path_room) - cost(suffix)
    else:
        enc = encoding or sys.getfilesystemencoding()

        def cost(s: str) -> int:
            try:
                return len(s.encode(enc, "surrogateescape"))
            except UnicodeEncodeError:
                return 4  # not representable: the rename will say so
        budget = NAME_BYTES - cost(suffix)
    used, end = 0, 0
    for ch in stem:
        used += cost(ch)
        if used > budget:
            break
        end += 1
    return stem[:end].rstrip(" .") + suffix


def eml_path(target: Path, uid: str, header: StoredHeader | None, head: bytes) -> Path:
    """The final name of a download: "date sender - subject [uid tag].eml"."""
    if header is None:
        from .decode import parse_headers  # only then: the decoder loads lazily

        header = parse_headers(uid, None, head)
    when = (datetime.fromtimestamp(header.timestamp).strftime("%Y-%m-%d %H%M")
            if header.timestamp else "undated")
    sender = header.sender.split("<")[0].strip().strip('"') or header.sender
    name = safe_filename(f"{when} {sender} - {header.subject}", 100)
    import hashlib

    tag = hashlib.sha256(uid.encode()).hexdigest()[:8]
    return target / fit_name(name, f" [{tag}].eml", os.path.abspath(target))


class DownloadFailed(MailboxError):
    """Some messages of a download could not be saved (the others were); the
    session itself went well. Those messages stay new."""

    def __init__(self, files: list[Path], failed: list[tuple[str, str]], total: int) -> None:
        self.files = files
        self.failed = tuple(failed)
        shown = "; ".join(f"{uid}: {why}" for uid, why in failed[:3])
        if len(failed) > 3:
            shown += _("; and {n} more").format(n=len(failed) - 3)
        super().__init__(ngettext("{failed} of {total} message could not be saved and stays "
                                  "new ({details})",
                                  "{failed} of {total} messages could not be saved and stay "
                                  "new ({details})", total).format(
            failed=len(failed), total=total, details=shown), AccountState.OK)


class ProgressFile:
    """A download sink: a new private temp file; counts bytes for progress and
    honours cancel. A local file error (disk full, permission, a name taken)
    does not break the POP3 session: it is kept in ``error``, the temp file is
    removed, and the rest of this message is read and dropped, so the next
    message of the batch still comes."""

    def __init__(self, path: Path, counter: list[int], total: int,
                 progress: Progress | None, cancel: threading.Event | None) -> None:
        self.path = path
        self.error: OSError | None = None
        self._kept = False
        self._f: BinaryIO | None = None
        self._counter, self._total = counter, total
        self._progress, self._cancel = progress, cancel
        #: the first bytes written (the headers), to name the file without reading it
        self.head = b""
        try:
            try:
                fd = create_private(path)
            except FileExistsError:  # our own leftover of a crash: the name is ours
                path.unlink()
                fd = create_private(path)
            self._f = os.fdopen(fd, "wb")
        except OSError as exc:
            self.error = exc

    def write(self, data: bytes) -> int:
        if self._cancel is not None and self._cancel.is_set():
            raise DownloadCancelled()
        if len(self.head) < 65536:
            self.head += data[: 65536 - len(self.head)]
        if self._f is not None:
            try:
                self._f.write(data)
            except OSError as exc:
                self.error = exc
                self.discard()
        self._counter[0] += len(data)
        if self._progress is not None:
            self._progress(self._counter[0], self._total)
        return len(data)

    def keep_as(self, final: Path) -> None:
        """fsync and give the file its final name (atomic rename)."""
        if self.error is not None:
            raise self.error
        assert self._f is not None
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        os.replace(self.path, final)
        self._kept = True

    def discard(self) -> None:
        """Close and remove the temp file (nothing once it has its final name)."""
        f, self._f = self._f, None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass
        if not self._kept:
            try:
                self.path.unlink(missing_ok=True)
            except OSError:
                pass


def abort(pop: POP3) -> None:
    """End a failed session without committing anything: RSET + QUIT when the
    session is still in sync, else just drop the connection."""
    if pop.connected and pop.state is State.TRANSACTION:
        try:
            pop.rset()
            pop.quit()
        except POP3Error:
            pass
    pop.close()
