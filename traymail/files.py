"""The files the engine writes: downloads (temp file, fsync, atomic rename to
a readable ``.eml`` name) and the per-account transcript logs (rotating,
already masked lines only)."""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

from .pop3 import POP3, POP3Error, State
from .session import AccountState, MailboxError

__all__ = ["DownloadCancelled", "ProgressFile", "file_logger", "close_file_logger",
           "safe_filename", "abort"]

Progress = Callable[[int, int], None]


class DownloadCancelled(MailboxError):
    def __init__(self) -> None:
        super().__init__("download cancelled", AccountState.OK)


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
            log_dir.mkdir(parents=True, exist_ok=True)
            logger = logging.getLogger(f"traymail.transcript.{safe}.{len(_FILE_LOGGERS)}")
            logger.propagate = False
            logger.setLevel(logging.INFO)
            handler = logging.handlers.RotatingFileHandler(
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
    text = re.sub(r'[\x00-\x1f<>:"/\\|?*]', "_", text)
    text = re.sub(r"\s+", " ", text).strip(" .")
    return text[:limit].rstrip(" .") or "message"


class ProgressFile:
    """A download sink: counts bytes for progress, honours cancel."""

    def __init__(self, path: Path, counter: list[int], total: int,
                 progress: Progress | None, cancel: threading.Event | None) -> None:
        self.path = path
        self._f = path.open("wb")
        self._counter, self._total = counter, total
        self._progress, self._cancel = progress, cancel
        #: the first bytes written (the headers), to name the file without reading it
        self.head = b""

    def write(self, data: bytes) -> int:
        if self._cancel is not None and self._cancel.is_set():
            raise DownloadCancelled()
        if len(self.head) < 65536:
            self.head += data[: 65536 - len(self.head)]
        n = self._f.write(data)
        self._counter[0] += n
        if self._progress is not None:
            self._progress(self._counter[0], self._total)
        return n

    def commit(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()

    def discard(self) -> None:
        try:
            self._f.close()  # may fail again (the disk is still full)
        except OSError:
            pass
        finally:
            self.path.unlink(missing_ok=True)


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
