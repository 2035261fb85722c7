"""Private folders and files: traymail's folders are created 0700 and its files
0600, new files with ``O_EXCL|O_NOFOLLOW`` (no following a planted symlink, no
writing into someone else's file). Modes are given at creation, never left to
the umask (a library must not change the process umask). On Windows the modes
mean little; the user's profile folders carry a per-user ACL already.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import stat
from pathlib import Path

from .i18n import _

__all__ = ["DIR_MODE", "FILE_MODE", "private_dir", "create_private", "open_private_append",
           "make_private", "write_private_text", "PrivateRotatingFileHandler"]

DIR_MODE = 0o700
FILE_MODE = 0o600
_POSIX = os.name == "posix"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_EXTRA = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _ours(st: os.stat_result) -> bool:
    return not _POSIX or st.st_uid == os.getuid()


def private_dir(path: Path, *, own: bool = True) -> Path:
    """Create ``path`` and its missing parents 0700. ``own``: the folder is
    traymail's alone (state, logs, the default download folder), so an existing
    one of ours is tightened to 0700 too; a user-chosen folder (``own=False``)
    keeps the mode it has."""
    missing: list[Path] = []
    p = path
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:
            pass  # made meanwhile by another thread or process
    if not path.is_dir():
        raise NotADirectoryError(_("{path} is not a folder").format(path=path))
    if own and _POSIX:
        st = os.stat(path)
        if _ours(st) and stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(path, DIR_MODE)
    return path


def create_private(path: Path) -> int:
    """A new file, 0600, opened for writing; fails (FileExistsError) when
    anything, a symlink included, is already there."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _EXTRA, FILE_MODE)


def _tighten(fd: int) -> None:
    if _POSIX:
        st = os.fstat(fd)
        if _ours(st) and stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fd, FILE_MODE)


def open_private_append(path: Path | str) -> int:
    """A log file opened for appending: created 0600, an existing one of ours
    tightened to 0600; a symlink is not followed."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _EXTRA, FILE_MODE)
    try:
        _tighten(fd)
    except OSError:
        os.close(fd)
        raise
    return fd


def make_private(path: Path, *, create: bool = False) -> None:
    """Tighten an existing file of ours to 0600 (``create``: make it, empty, if
    missing -- so that what is written into it later is private from the start)."""
    flags = os.O_RDONLY | _NOFOLLOW | _EXTRA | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return  # a symlink the user made: its target is not ours to change
        raise
    try:
        _tighten(fd)
    finally:
        os.close(fd)


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` to a file the user chose (replacing it), 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW | _EXTRA, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        _tighten(fd)
        f.write(text)


class PrivateRotatingFileHandler(logging.FileHandler):
    """A size-rotating log file (``name``, ``name.1`` ... ``name.<backupCount>``,
    the way :class:`logging.handlers.RotatingFileHandler` rotates) whose files
    are 0600 and never opened through a symlink. Kept on
    :class:`logging.FileHandler` alone: ``logging.handlers`` (with pickle,
    queue and socket handlers) costs every console call ~4 ms of CPU."""

    def __init__(self, filename: str | os.PathLike[str], *, maxBytes: int, backupCount: int,
                 encoding: str | None = None, delay: bool = False) -> None:
        self.maxBytes, self.backupCount = maxBytes, backupCount
        super().__init__(filename, "a", encoding=encoding, delay=delay)

    def _open(self) -> io.TextIOWrapper:
        fd = open_private_append(self.baseFilename)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self._full(record):
                self.doRollover()
            super().emit(record)
        except Exception:
            self.handleError(record)

    def _full(self, record: logging.LogRecord) -> bool:
        if self.maxBytes <= 0 or self.backupCount <= 0:
            return False  # (as RotatingFileHandler: no backups, no rollover)
        if self.stream is None:
            self.stream = self._open()
        if not stat.S_ISREG(os.fstat(self.stream.fileno()).st_mode):
            return False
        self.stream.seek(0, 2)
        return self.stream.tell() + len(self.format(record)) + 1 >= self.maxBytes

    def doRollover(self) -> None:  # (the logging name)
        """``name.(n-1)`` -> ``name.n`` ... ``name`` -> ``name.1``; the next
        record opens a new (private) ``name``."""
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        base = self.baseFilename
        for i in range(self.backupCount - 1, 0, -1):
            if os.path.lexists(f"{base}.{i}"):
                os.replace(f"{base}.{i}", f"{base}.{i + 1}")
        if os.path.lexists(base):
            os.replace(base, f"{base}.1")
