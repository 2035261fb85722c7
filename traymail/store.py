"""Per-account state in sqlite (WAL): known UIDs, announcements, header
cache, downloads and deletion marks. Survives restarts.

A database that cannot be opened or fails its integrity check is moved aside
(``state.sqlite3.corrupt-<time>``), never silently dropped; ``recovered_from``
then names it so the user can be told.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from .i18n import _
from .private import make_private, private_dir

__all__ = ["Store", "StoredHeader", "StoreError", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    account TEXT NOT NULL, uid TEXT NOT NULL,
    first_seen REAL NOT NULL, size INTEGER,
    announced INTEGER NOT NULL DEFAULT 0,
    seen INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, uid));
CREATE TABLE IF NOT EXISTS headers (
    account TEXT NOT NULL, uid TEXT NOT NULL, size INTEGER,
    sender TEXT, recipients TEXT, subject TEXT, date TEXT, timestamp REAL,
    message_id TEXT, fetched REAL NOT NULL,
    PRIMARY KEY (account, uid));
CREATE TABLE IF NOT EXISTS downloads (
    account TEXT NOT NULL, uid TEXT NOT NULL, path TEXT NOT NULL,
    size INTEGER, at REAL NOT NULL,
    PRIMARY KEY (account, uid));
CREATE TABLE IF NOT EXISTS marks (
    account TEXT NOT NULL, uid TEXT NOT NULL, size INTEGER, at REAL NOT NULL,
    PRIMARY KEY (account, uid));
CREATE TABLE IF NOT EXISTS rule_heads (
    account TEXT NOT NULL, uid TEXT NOT NULL, head BLOB NOT NULL,
    PRIMARY KEY (account, uid));
CREATE TABLE IF NOT EXISTS rule_results (
    account TEXT NOT NULL, uid TEXT NOT NULL, fingerprint TEXT NOT NULL, rule TEXT,
    PRIMARY KEY (account, uid));
"""


class StoreError(Exception):
    """The state database cannot be used."""


@dataclass(frozen=True)
class StoredHeader:
    uid: str
    size: int | None
    sender: str
    recipients: str
    subject: str
    date: str
    timestamp: float | None
    message_id: str
    #: the top-level Content-Type says the message carries attachments
    attachments: bool = False


class Store:
    """Thread-safe access to the state database (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.recovered_from: Path | None = None
        self._lock = threading.RLock()
        private_dir(path.parent)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(path) + suffix)
                if src.exists():
                    src.rename(Path(str(aside) + suffix))
            self.recovered_from = aside
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as exc2:
                raise StoreError(_("cannot create the state database {path}: {error}").format(
                    path=path, error=exc2)) from exc

    def _open(self) -> sqlite3.Connection:
        # 0600 before SQLite sees it: SQLite gives -wal/-shm the mode of the
        # database file; older files of ours are tightened on open
        for suffix in ("-wal", "-shm"):
            make_private(Path(str(self.path) + suffix))
        make_private(self.path, create=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                             timeout=10)
        try:
            row = db.execute("PRAGMA quick_check").fetchone()
            if row is None or row[0] != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {row}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            version = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if version is None:
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(version[0]) > SCHEMA_VERSION:
                raise StoreError(_("{path} was written by a newer traymail (schema {version})")
                                 .format(path=self.path, version=version[0]))
            columns = {row[1] for row in db.execute("PRAGMA table_info(headers)")}
            if "attachments" not in columns:  # added later; old rows read as "none"
                db.execute("ALTER TABLE headers ADD COLUMN attachments INTEGER "
                           "NOT NULL DEFAULT 0")
        except BaseException:
            db.close()
            raise
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _all(self, sql: str, args: tuple[object, ...],
             uids: list[str] | None = None) -> list[tuple[object, ...]]:
        """Rows of ``sql`` (``... WHERE account=?``); only those of ``uids`` when given."""
        with self._lock:
            if uids is None:
                return self._db.execute(sql, args).fetchall()
            rows: list[tuple[object, ...]] = []
            for k in range(0, len(uids), 500):
                part = uids[k:k + 500]
                rows += self._db.execute(
                    f"{sql} AND uid IN ({','.join('?' * len(part))})", (*args, *part)).fetchall()
            return rows

    # -- messages ------------------------------------------------------------------
    def sync_uids(self, account: str, sizes: dict[str, int | None]) -> list[str]:
        """Record the UIDs now on the server; return those never seen before.

        UIDs gone from the server are forgotten (with their cached headers)."""
        now = time.time()
        with self.transaction() as db:
            known = {r[0]: r[1] for r in db.execute(
                "SELECT uid, size FROM messages WHERE account=?", (account,))}
            new = [u for u in sizes if u not in known]
            db.executemany(
                "INSERT INTO messages (account, uid, first_seen, size) VALUES (?,?,?,?)",
                [(account, u, now, sizes[u]) for u in new])
            db.executemany(
                "UPDATE messages SET size=? WHERE account=? AND uid=?",
                [(sizes[u], account, u) for u in sizes
                 if u in known and sizes[u] is not None and known[u] != sizes[u]])
            gone = [u for u in known if u not in sizes]
            db.executemany("DELETE FROM messages WHERE account=? AND uid=?",
                           [(account, u) for u in gone])
            for table in ("headers", "rule_heads", "rule_results"):
                db.executemany(f"DELETE FROM {table} WHERE account=? AND uid=?",
                               [(account, u) for u in gone])
            db.execute("DELETE FROM meta WHERE key=?", (f"listing:{account}",))
        return new

    def sync_listing(self, account: str, uids: list[str], digest: str) -> bool:
        """Record the UIDs now on the server (new ones without a size yet) and
        forget the gone ones (with their cached headers and rule data); remember ``digest``
        (of this listing) once every size is known. Returns whether any size is
        unknown. Nothing is
        read but the UIDs (a set): linear in the listing, lean in memory."""
        now = time.time()
        with self.transaction() as db:
            known = {u for (u,) in db.execute(
                "SELECT uid FROM messages WHERE account=?", (account,))}
            new = [u for u in uids if u not in known]
            if new:
                db.executemany("INSERT INTO messages (account, uid, first_seen) VALUES (?,?,?)",
                               [(account, u, now) for u in new])
            if len(known) + len(new) != len(uids):  # some are gone (or listed twice)
                current = set(uids)
                gone = [(account, u) for u in known if u not in current]
                for table in ("messages", "headers", "rule_heads", "rule_results"):
                    db.executemany(f"DELETE FROM {table} WHERE account=? AND uid=?", gone)
            unsized = db.execute("SELECT 1 FROM messages WHERE account=? AND size IS NULL "
                                 "LIMIT 1", (account,)).fetchone() is not None
            if not unsized:  # complete: the next identical listing needs no sync
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                           (f"listing:{account}", digest))
        return unsized

    def listing_digest(self, account: str) -> str | None:
        """The digest of the listing the state was last synced to (None: unknown)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?",
                                   (f"listing:{account}",)).fetchone()
        return None if row is None else str(row[0])

    def unseen(self, account: str) -> dict[str, tuple[int | None, bool]]:
        """uid -> (size, announced) of the messages not marked seen."""
        return {str(u): (s, bool(a)) for u, s, a in self._all(  # type: ignore[misc]
            "SELECT uid, size, announced FROM messages WHERE account=? AND seen=0",
            (account,))}

    def sizes(self, account: str, uids: list[str] | None = None) -> dict[str, int | None]:
        return {str(u): s for u, s in self._all(  # type: ignore[misc]
            "SELECT uid, size FROM messages WHERE account=?", (account,), uids)}

    def flags(self, account: str, uids: list[str] | None = None
              ) -> dict[str, tuple[bool, bool]]:
        """uid -> (announced, seen)."""
        return {str(u): (bool(a), bool(s)) for u, a, s in self._all(
            "SELECT uid, announced, seen FROM messages WHERE account=?", (account,), uids)}

    def set_announced(self, account: str, uids: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany("UPDATE messages SET announced=1 WHERE account=? AND uid=?",
                           [(account, u) for u in uids])

    def set_seen(self, account: str, seen: bool, uids: Iterable[str] | None = None) -> None:
        with self.transaction() as db:
            if uids is None:
                db.execute("UPDATE messages SET seen=?, announced=1 WHERE account=?",
                           (int(seen), account))
            else:
                db.executemany("UPDATE messages SET seen=? WHERE account=? AND uid=?",
                               [(int(seen), account, u) for u in uids])

    def has_history(self, account: str) -> bool:
        with self._lock:
            return self._db.execute(
                "SELECT 1 FROM meta WHERE key=?", (f"checked:{account}",)).fetchone() is not None

    def set_history(self, account: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                       (f"checked:{account}", str(time.time())))

    def ui_state(self, key: str) -> str | None:
        """A remembered window choice (e.g. the mailbox window's sort order)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?",
                                   (f"ui:{key}",)).fetchone()
        return str(row[0]) if row is not None else None

    def set_ui_state(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"ui:{key}", value))

    # -- headers -------------------------------------------------------------------
    def put_headers(self, account: str, headers: Iterable[StoredHeader]) -> None:
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO headers (account, uid, size, sender, recipients, "
                "subject, date, timestamp, message_id, fetched, attachments) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(account, h.uid, h.size, h.sender, h.recipients, h.subject, h.date,
                  h.timestamp, h.message_id, now, int(h.attachments)) for h in headers])

    def header_uids(self, account: str) -> set[str]:
        """The uids whose headers are cached (no header text read)."""
        return {str(r[0]) for r in self._all(
            "SELECT uid FROM headers WHERE account=?", (account,))}

    def headers(self, account: str, uids: list[str] | None = None
                ) -> dict[str, StoredHeader]:
        rows = self._all("SELECT uid, size, sender, recipients, subject, date, timestamp, "
                         "message_id, attachments FROM headers WHERE account=?", (account,), uids)
        return {str(r[0]): StoredHeader(*r[:8]) if not r[8]  # type: ignore[arg-type]
                else replace(StoredHeader(*r[:8]), attachments=True)  # type: ignore[arg-type]
                for r in rows}

    # -- rules (traymail.rules): raw header blocks and each message's result ----------
    def put_heads(self, account: str, heads: dict[str, bytes]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO rule_heads VALUES (?,?,?)",
                           [(account, u, h) for u, h in heads.items()])

    def head_uids(self, account: str) -> set[str]:
        return {str(r[0]) for r in self._all(
            "SELECT uid FROM rule_heads WHERE account=?", (account,))}

    def heads(self, account: str) -> dict[str, bytes]:
        return {str(u): bytes(h) for u, h in self._all(  # type: ignore[call-overload]
            "SELECT uid, head FROM rule_heads WHERE account=?", (account,))}

    def put_rule_results(self, account: str, results: dict[str, tuple[str, str | None]]
                         ) -> None:
        """uid -> (rules fingerprint, matching rule name or None)."""
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO rule_results VALUES (?,?,?,?)",
                           [(account, u, fp, r) for u, (fp, r) in results.items()])

    def rule_results(self, account: str) -> dict[str, tuple[str, str | None]]:
        return {str(u): (str(fp), None if r is None else str(r)) for u, fp, r in self._all(
            "SELECT uid, fingerprint, rule FROM rule_results WHERE account=?", (account,))}

    # -- downloads -----------------------------------------------------------------
    def add_download(self, account: str, uid: str, path: Path, size: int) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO downloads VALUES (?,?,?,?,?)",
                       (account, uid, str(path), size, time.time()))

    def add_downloads(self, account: str, files: Iterable[tuple[str, Path, int]]) -> None:
        """Record (uid, file, size) downloads in one transaction."""
        now = time.time()
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO downloads VALUES (?,?,?,?,?)",
                           [(account, uid, str(path), size, now) for uid, path, size in files])

    def download_paths(self, account: str) -> dict[str, Path]:
        """uid -> file, as recorded (whether the file still exists is not checked)."""
        return {str(u): Path(str(p)) for u, p in self._all(
            "SELECT uid, path FROM downloads WHERE account=?", (account,))}

    def downloads(self, account: str, uids: list[str] | None = None) -> dict[str, Path]:
        """uid -> file, for downloads whose file still exists."""
        return {str(u): Path(str(p)) for u, p in self._all(
            "SELECT uid, path FROM downloads WHERE account=?", (account,), uids)
            if Path(str(p)).exists()}

    # -- marks ---------------------------------------------------------------------
    def mark(self, account: str, uids: dict[str, int | None]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO marks VALUES (?,?,?,?)",
                           [(account, u, s, time.time()) for u, s in uids.items()])

    def unmark(self, account: str, uids: Iterable[str] | None = None) -> None:
        with self.transaction() as db:
            if uids is None:
                db.execute("DELETE FROM marks WHERE account=?", (account,))
            else:
                db.executemany("DELETE FROM marks WHERE account=? AND uid=?",
                               [(account, u) for u in uids])

    def marks(self, account: str) -> dict[str, int | None]:
        return {str(u): s for u, s in self._all(  # type: ignore[misc]
            "SELECT uid, size FROM marks WHERE account=? ORDER BY at", (account,))}

    def forget(self, account: str, uids: Iterable[str]) -> None:
        """Messages deleted from the server: drop every trace but downloads."""
        uids = list(uids)
        with self.transaction() as db:
            db.execute("DELETE FROM meta WHERE key=?", (f"listing:{account}",))
            for table in ("messages", "headers", "marks", "rule_heads", "rule_results"):
                db.executemany(f"DELETE FROM {table} WHERE account=? AND uid=?",
                               [(account, u) for u in uids])
