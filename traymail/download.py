"""Downloads to ``.eml`` files, pipelined with the disk.

RETR replies stream (pipelined) into ``.part`` files. A finished file goes to
one of the writer threads while the next bodies keep streaming; per file, in
order, the writer

1. flushes, fsyncs and closes the file (the data on disk),
2. renames it to its final name (``os.replace``, atomic);

and every :data:`BATCH` renamed files (and at the end), under one lock:

3. fsyncs the folder once (the renames on disk),
4. then records that batch in the state database in one transaction.

So a crash leaves at most ``.part`` files (never a final-named partial file)
or final-named complete files not yet recorded (downloaded again next time,
under the same name) -- never a message recorded as downloaded that is not
on disk. A message whose file fails (a local file error: disk full,
permission, a name taken) is not recorded and its ``.part`` file is removed;
the others of the batch still are, and the failures are returned (the caller
raises :class:`~traymail.files.DownloadFailed` naming them). Any other error
(the folder fsync, the state database) is raised after what could be made
final was.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

from .files import ProgressFile, eml_path
from .pop3 import POP3
from .store import Store, StoredHeader

__all__ = ["fetch_files", "fsync_dir", "BATCH"]

log = logging.getLogger("traymail.download")

Progress = Callable[[int, int], None]
#: messages made final (renamed, folder fsynced, recorded) together
BATCH = 64


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
    """The disk side, run by :data:`WRITERS` threads: per file fsync + close,
    final name, rename (files in parallel: concurrent fsyncs share the file
    system's journal commits); every BATCH renames (and at the end) one
    folder fsync, then one state transaction, under a lock -- a batch holds
    only files already renamed. A file that fails is dropped (its ``.part``
    removed): a local file error is listed in ``failed`` (the batch goes
    on), any other first error kept for the caller."""

    def __init__(self, store: Store, account: str, target: Path,
                 cache: dict[str, StoredHeader], note: Callable[[str], None]) -> None:
        self.store, self.account, self.target, self.cache = store, account, target, cache
        self.note = note
        self.renamed: list[tuple[str, Path, int]] = []
        self.done: dict[str, Path] = {}
        self.failed: list[tuple[str, str]] = []
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def commit(self, uid: str, f: ProgressFile, octets: int) -> None:
        try:
            final = eml_path(self.target, uid, self.cache.get(uid), f.head)
            f.keep_as(final)  # 1. the data on disk (fsync), 2. its final name
        except OSError as exc:  # this message only; the batch goes on
            why = exc.strerror or str(exc)
            with self._lock:
                self.failed.append((uid, why))
            self.note(f"message {uid} was not saved: {why}")
            log.warning("%s: message %s was not saved: %s", self.account, uid, exc)
            return
        except Exception as exc:
            with self._lock:
                self.error = self.error or exc
            return
        finally:
            f.discard()  # the temp file never outlives an error (no-op once renamed)
        with self._lock:
            self.renamed.append((uid, final, octets))
            if len(self.renamed) >= BATCH:
                self._flush()

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
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


#: files streamed and not yet committed by the writers (bounds open files)
IN_FLIGHT = 32
#: writer threads: fsyncs in parallel (measured: about 2x the files per second
#: of one thread on ext4)
WRITERS = 4
#: ``.part`` files created ahead of their message, off the streaming thread
OPEN_AHEAD = 8


def fetch_files(pop: POP3, store: Store, account: str, target: Path,
                numbers: dict[str, int], want: Iterable[str], total: int,
                cache: dict[str, StoredHeader], progress: Progress | None,
                cancel: threading.Event | None, note: Callable[[str], None]
                ) -> tuple[dict[str, Path], list[tuple[str, str]]]:
    """Download ``want`` (UIDs; ``numbers`` from this session's UIDL) into
    ``target``; returns uid -> final file for every message made final, and
    (uid, reason) for each message a local file error kept from being saved.
    Any other error is raised after the others are made final."""
    nums = [numbers[u] for u in want]
    counter = [0]
    by_number = {numbers[u]: u for u in want}
    open_files: dict[int, ProgressFile] = {}
    writer = _Writer(store, account, target, cache, note)
    in_flight: deque[Future[None]] = deque()
    ahead: dict[int, Future[ProgressFile]] = {}
    nxt = [0]

    def open_part(n: int) -> ProgressFile:
        key = f"{account}\0{by_number[n]}".encode()  # two accounts may share a folder
        tag = hashlib.sha256(key).hexdigest()[:16]
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

    with ThreadPoolExecutor(WRITERS, thread_name_prefix="traymail-writer") as pool, \
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
            wait(in_flight)  # every file committed (or dropped) before the last batch
            writer.flush()
    if writer.error is not None:
        raise writer.error
    return writer.done, writer.failed
