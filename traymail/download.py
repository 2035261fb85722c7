"""Downloads to ``.eml`` files, pipelined with the disk.

RETR replies stream (pipelined) into ``.part`` files. A finished file goes to
a writer thread that flushes, fsyncs and closes it while the next bodies
keep streaming; every :data:`BATCH` messages (and at the end) the batch is
made final in this order:

1. wait for the batch's fsyncs (data on disk),
2. rename each file to its final name (``os.replace``, atomic),
3. fsync the folder once (the renames on disk),
4. record the batch in the state database in one transaction.

So a crash leaves at most ``.part`` files (never a final-named partial file)
or final-named complete files not yet recorded (downloaded again next time,
under the same name) -- never a message recorded as downloaded that is not
on disk. A message whose file fails (disk full, permission) is not
recorded; the others of the batch still are, then the error is raised.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from .files import ProgressFile, safe_filename
from .pop3 import POP3
from .store import Store, StoredHeader

__all__ = ["fetch_files", "final_path", "BATCH"]

Progress = Callable[[int, int], None]
#: messages made final (renamed, folder fsynced, recorded) together
BATCH = 64


def final_path(target: Path, uid: str, header: StoredHeader | None, head: bytes) -> Path:
    """``<date> <sender> - <subject> [<tag>].eml``: readable, unique per UID."""
    if header is None:
        from .decode import parse_headers

        header = parse_headers(uid, None, head)
    when = (datetime.fromtimestamp(header.timestamp).strftime("%Y-%m-%d %H%M")
            if header.timestamp else "undated")
    sender = header.sender.split("<")[0].strip().strip('"') or header.sender
    name = safe_filename(f"{when} {sender} - {header.subject}", 100)
    tag = hashlib.sha256(uid.encode()).hexdigest()[:8]
    return target / f"{name} [{tag}].eml"


def fsync_dir(path: Path) -> None:
    """Make renames in ``path`` durable (POSIX; Windows has no folder handles)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Batch:
    """Files streamed and handed to the writer, not yet final."""

    def __init__(self, store: Store, account: str, target: Path,
                 cache: dict[str, StoredHeader]) -> None:
        self.store, self.account, self.target, self.cache = store, account, target, cache
        self.pending: list[tuple[str, ProgressFile, int, Future[None]]] = []
        self.done: dict[str, Path] = {}

    def finish(self) -> None:
        """Steps 1-4 for every pending file; raises the first file error after
        the good files are recorded."""
        pending, self.pending = self.pending, []
        error: BaseException | None = None
        renamed: list[tuple[str, Path, int]] = []
        try:
            for uid, f, octets, fut in pending:
                try:
                    fut.result()
                    final = final_path(self.target, uid, self.cache.get(uid), f.head)
                    os.replace(f.path, final)
                except OSError as exc:
                    f.discard()
                    error = error or exc
                    continue
                renamed.append((uid, final, octets))
        finally:
            if renamed:
                fsync_dir(self.target)
                self.store.add_downloads(self.account, renamed)
                self.done.update((uid, path) for uid, path, _ in renamed)
        if error is not None:
            raise error


def fetch_files(pop: POP3, store: Store, account: str, target: Path,
                numbers: dict[str, int], want: Iterable[str], total: int,
                cache: dict[str, StoredHeader], progress: Progress | None,
                cancel: threading.Event | None) -> dict[str, Path]:
    """Download ``want`` (UIDs; ``numbers`` from this session's UIDL) into
    ``target``; returns uid -> final file for every message made final."""
    want = list(want)
    counter = [0]
    by_number = {numbers[u]: u for u in want}
    open_files: dict[int, ProgressFile] = {}
    batch = _Batch(store, account, target, cache)

    def sink(n: int) -> ProgressFile:
        tag = hashlib.sha256(by_number[n].encode()).hexdigest()[:16]
        f = ProgressFile(target / f".traymail-{tag}.part", counter, total, progress, cancel)
        open_files[n] = f
        return f

    with ThreadPoolExecutor(1, thread_name_prefix="traymail-fsync") as writer:
        try:
            for n, octets in pop.retr_many([numbers[u] for u in want], sink):
                f = open_files.pop(n)
                batch.pending.append((by_number[n], f, octets, writer.submit(f.commit)))
                if len(batch.pending) >= BATCH:
                    batch.finish()
            batch.finish()
        except BaseException:
            for f in open_files.values():  # a half file never gets a final name
                f.discard()
            try:  # what streamed completely is kept: a later failure does
                batch.finish()  # not throw away the earlier messages
            except OSError:
                pass  # the first error is the one to report
            raise
    return batch.done
