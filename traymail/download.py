"""Downloads to ``.eml`` files, pipelined with the disk.

RETR replies stream (pipelined) into ``.part`` files. A finished file goes to
a writer thread while the next bodies keep streaming; the writer, in order:

1. flushes, fsyncs and closes the file (the data on disk),
2. renames it to its final name (``os.replace``, atomic),
3. every :data:`BATCH` renames (and at the end): fsyncs the folder once
   (the renames on disk),
4. then records that batch in the state database in one transaction.

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
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from .files import ProgressFile, safe_filename
from .pop3 import POP3
from .store import Store, StoredHeader

__all__ = ["fetch_files", "final_path", "fsync_dir", "BATCH"]

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


class _Writer:
    """The disk side, run in one writer thread (tasks in order): per file
    fsync + close, final name, rename; every BATCH renames (and at the end)
    one folder fsync, then one state transaction. A file that fails is
    dropped (its ``.part`` removed) and the first error kept for the caller."""

    def __init__(self, store: Store, account: str, target: Path,
                 cache: dict[str, StoredHeader]) -> None:
        self.store, self.account, self.target, self.cache = store, account, target, cache
        self.renamed: list[tuple[str, Path, int]] = []
        self.done: dict[str, Path] = {}
        self.error: BaseException | None = None

    def commit(self, uid: str, f: ProgressFile, octets: int) -> None:
        try:
            f.commit()  # 1. the data on disk
            final = final_path(self.target, uid, self.cache.get(uid), f.head)
            os.replace(f.path, final)  # 2. its final name
        except Exception as exc:
            f.discard()
            self.error = self.error or exc
            return
        self.renamed.append((uid, final, octets))
        if len(self.renamed) >= BATCH:
            self.flush()

    def flush(self) -> None:
        batch, self.renamed = self.renamed, []
        if not batch:
            return
        try:
            fsync_dir(self.target)  # 3. the renames on disk
            self.store.add_downloads(self.account, batch)  # 4. recorded
        except Exception as exc:
            self.error = self.error or exc
            return
        self.done.update((uid, path) for uid, path, _ in batch)


#: files streamed and not yet committed by the writer (bounds open files)
IN_FLIGHT = 32
#: ``.part`` files created ahead of their message, off the streaming thread
OPEN_AHEAD = 8


def fetch_files(pop: POP3, store: Store, account: str, target: Path,
                numbers: dict[str, int], want: Iterable[str], total: int,
                cache: dict[str, StoredHeader], progress: Progress | None,
                cancel: threading.Event | None) -> dict[str, Path]:
    """Download ``want`` (UIDs; ``numbers`` from this session's UIDL) into
    ``target``; returns uid -> final file for every message made final. The
    first file error is raised after the others are made final."""
    nums = [numbers[u] for u in want]
    counter = [0]
    by_number = {numbers[u]: u for u in want}
    open_files: dict[int, ProgressFile] = {}
    writer = _Writer(store, account, target, cache)
    in_flight: deque[Future[None]] = deque()
    ahead: dict[int, Future[ProgressFile]] = {}
    nxt = [0]

    def open_part(n: int) -> ProgressFile:
        tag = hashlib.sha256(by_number[n].encode()).hexdigest()[:16]
        return ProgressFile(target / f".traymail-{tag}.part", counter, total, progress, cancel)

    def open_next() -> None:
        if nxt[0] < len(nums):
            ahead[nums[nxt[0]]] = opener.submit(open_part, nums[nxt[0]])
            nxt[0] += 1

    def sink(n: int) -> ProgressFile:
        f = ahead.pop(n).result()  # created in advance (a create can wait on the journal)
        open_next()
        open_files[n] = f
        return f

    with ThreadPoolExecutor(1, thread_name_prefix="traymail-writer") as pool, \
            ThreadPoolExecutor(1, thread_name_prefix="traymail-opener") as opener:
        try:
            for _ in range(OPEN_AHEAD):
                open_next()
            for n, octets in pop.retr_many(nums, sink):
                in_flight.append(pool.submit(writer.commit, by_number[n], open_files.pop(n),
                                             octets))
                while len(in_flight) > IN_FLIGHT:  # the disk is slower: wait for it
                    in_flight.popleft().result()
        except BaseException:
            for f in open_files.values():  # a half file never gets a final name
                f.discard()
            raise
        finally:  # what streamed completely is kept, even when a later one failed
            for fut in ahead.values():  # created in advance, never written
                if fut.exception() is None:
                    fut.result().discard()
            pool.submit(writer.flush).result()
    if writer.error is not None:
        raise writer.error
    return writer.done
