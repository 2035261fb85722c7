"""The mailbox engine: one :class:`Mailbox` per account.

POP3 has no "new" flag and message numbers last one session (RFC 1939 §5),
so everything here is keyed by UIDL. "New" = on the server, not downloaded,
not marked seen by the user; ``newly_arrived`` = new and never announced.
Deletion maps each marked UID to its number with a UIDL *in the same
session*, checks the size, and DELEs only those; any error before QUIT ends
with RSET (or a dropped connection): nothing is deleted.

A per-account lock keeps two sessions from ever running at once. No GUI here.
"""

from __future__ import annotations

import hashlib
import logging
import logging.handlers
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import ruling
from .decode import parse_headers
from .files import (
    DownloadCancelled,
    DownloadFailed,
    ProgressFile,
    abort,
    close_file_logger,
    eml_path,
    file_logger,
)
from .mimeinfo import Preview, preview_details
from .oauth import OAuth2Error, TokenManager, default_manager
from .passwords import KeyringUnavailable, PasswordStore
from .pop3 import (
    GRACE,
    MIN_RATE,
    POP3,
    CapabilityError,
    Direction,
    MailboxInUseError,
    POP3Error,
    ServerError,
    Stat,
    TranscriptEvent,
)
from .private import private_dir
from .rules import RuleSet
from .session import (
    AccountState,
    AccountStatus,
    MailboxError,
    StateTracker,
    TokenSource,
    connect,
    log_in,
    oauth_login,
)
from .settings import Account, AuthMethod, Paths
from .store import Store, StoredHeader
from .text import clean

__all__ = ["Mailbox", "CheckResult", "Header", "DeleteReport", "MailboxError",
           "AccountState", "AccountStatus", "DownloadCancelled", "DownloadFailed"]

log = logging.getLogger("traymail.mailbox")
Progress = Callable[[int, int], None]
TRANSCRIPT_LINES = 5000


@dataclass(frozen=True)
class CheckResult:
    new_count: int
    new_size: int
    total_count: int
    total_size: int
    newly_arrived: tuple[str, ...]
    #: the first check of this account: newly_arrived is the whole mailbox,
    #: to be shown as one summary
    first_run: bool = False
    # -- rules (traymail.ruling): newly arrived messages an "important" rule
    # matched (a toast even when paused), the sound to play (None: silence),
    # how many new messages an "ignore" rule kept out of the counts
    important: tuple[str, ...] = ()
    sound: str | None = None
    ignored: int = 0


@dataclass(frozen=True)
class Header:
    uid: str
    number: int | None
    size: int | None
    sender: str
    recipients: str
    subject: str
    date: str
    timestamp: float | None
    message_id: str
    new: bool
    marked: bool
    downloaded: Path | None
    #: the rule that matched (traymail.rules), None: none
    rule: str | None = None
    #: the top-level Content-Type says it carries attachments
    attachments: bool = False


@dataclass(frozen=True)
class DeleteReport:
    deleted: tuple[str, ...] = ()
    #: marked, but no longer on the server (never guessed)
    gone: tuple[str, ...] = ()
    #: (uid, reason): not deleted
    failed: tuple[tuple[str, str], ...] = ()


class Mailbox:
    """Engine operations for one account. Thread-safe; blocking (run it off the UI thread)."""

    def __init__(self, account: Account, store: Store, passwords: PasswordStore, paths: Paths,
                 *, timeout: float = 30.0, token_source: TokenSource | None = None,
                 deadline: float = GRACE, min_rate: float = MIN_RATE,
                 tokens: TokenManager | None = None) -> None:
        self.account = account
        #: OAuth2 accounts: where access tokens come from (the secret of the
        #: session); None: ``tokens`` (the keyring), refreshed once after [AUTH]
        self.token_source = token_source
        self.store = store
        self.passwords = passwords
        #: OAuth2 tokens (the keyring by default; nothing is read until needed)
        self.tokens = tokens if tokens is not None else default_manager()
        self.paths = paths
        self.timeout = timeout
        #: each operation's time bound (traymail.pop3._deadline)
        self.deadline, self.min_rate = deadline, min_rate
        self.tracker = StateTracker(account)
        self.transcript: deque[TranscriptEvent] = deque(maxlen=TRANSCRIPT_LINES)
        self.listeners: list[Callable[[str, TranscriptEvent], None]] = []
        self._lock = threading.Lock()
        self._log_name = account.name
        self._file_log = file_logger(paths.log_dir, account.name)
        self._log_buffer: list[TranscriptEvent] = []
        self._quit_unconfirmed = float("-inf")
        self._login_delay: int | None = None
        self._no_uidl_noted = False
        #: the rules, friends and block list (set from the settings by Accounts)
        self.rules = RuleSet()

    @property
    def name(self) -> str:
        return self.account.name

    @property
    def status(self) -> AccountStatus:
        return self.tracker.status

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @property
    def login_delay(self) -> int | None:
        """The server's LOGIN-DELAY in seconds (RFC 2449 §6.5), once known."""
        return self._login_delay

    def update_account(self, account: Account) -> None:
        """New settings for this account (re-allows a login that failed)."""
        with self._lock:
            self.account = account
            self.tracker.account = account

    # -- the session ---------------------------------------------------------------
    def _on_wire(self, event: TranscriptEvent) -> None:
        self.transcript.append(event)
        self._log_buffer.append(event)  # written to the file once per session
        for listener in list(self.listeners):
            try:
                listener(self.account.name, event)
            except Exception:
                log.exception("transcript listener failed")

    def _note(self, text: str) -> None:
        self._on_wire(TranscriptEvent(Direction.NOTE, time.time(), text))

    def _password(self) -> str:
        if self.account.auth is AuthMethod.OAUTH2:
            # the access token, fetched (refreshed if due) before connecting
            if self.token_source is not None:
                return self.token_source(self.account)
            return self.tokens.access_token(self.account)
        password = self.passwords.get(self.account)
        if password is None:
            raise MailboxError(f"no password is stored for {self.account.keyring_user}; "
                               "set one in Settings or with 'traymail set-password'",
                               AccountState.STOPPED)
        return password

    @contextmanager
    def _session(self) -> Iterator[POP3]:
        with self._lock:
            password: str | None = None
            pop: POP3 | None = None
            try:
                password = self._password()
                self.tracker.gate(password)
                pop = self._login(password)
                yield pop
                if pop.connected:
                    pop.quit(wait=False)  # nothing to confirm: no DELE was sent
                    self._quit_unconfirmed = time.monotonic()
                self.tracker.succeeded()
            except (POP3Error, OSError, KeyringUnavailable, MailboxError, OAuth2Error) as exc:
                if pop is not None:
                    abort(pop)
                if isinstance(exc, DownloadCancelled):
                    raise
                err = self.tracker.failed(exc, password, self._login_delay)
                # the status line sends people to the protocol log: the reason is there
                self._note(f"failed: {clean(str(err))[:500]}")
                raise err from exc
            finally:
                if pop is not None:
                    pop.close()
                self._flush_log()

    def _login(self, password: str) -> POP3:
        """Connect and log in. Our previous session ended with an unconfirmed
        QUIT; a server that locks the maildrop may not have let go of it yet,
        so an [IN-USE] within a few seconds of that is retried briefly."""
        for attempt in range(5):
            pop = connect(self.account, timeout=self.timeout, transcript=self._on_wire,
                          deadline=self.deadline, min_rate=self.min_rate, secrets=(password,))
            try:
                caps = pop.capabilities or pop.capa()
                self._login_delay = caps.login_delay
                if self.account.auth is AuthMethod.OAUTH2 and self.token_source is None:
                    return oauth_login(
                        pop, self.account, password,
                        lambda: self.tokens.access_token(self.account, force_refresh=True),
                        self._note, lambda: connect(self.account, timeout=self.timeout,
                                                    transcript=self._on_wire,
                                                    deadline=self.deadline,
                                                    min_rate=self.min_rate))
                log_in(pop, self.account, password)
                return pop
            except MailboxInUseError:
                pop.close()
                if attempt == 4 or time.monotonic() - self._quit_unconfirmed > 5:
                    raise
                self._note("the server still holds our previous session; retrying")
                time.sleep(0.05 * 2 ** attempt)
            except BaseException:
                pop.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _flush_log(self) -> None:
        """Append this session's transcript to the account's log file in one write
        (a 1,000-message batch is 3,000 lines: one record, not 3,000)."""
        events, self._log_buffer = self._log_buffer, []
        if not events:
            return
        stamps: dict[int, str] = {}  # one strftime per second, not per line
        lines = []
        for e in events:
            second = int(e.timestamp)
            stamp = stamps.get(second)
            if stamp is None:
                stamp = stamps[second] = time.strftime("%Y-%m-%d %H:%M:%S",
                                                       time.localtime(second))
            lines.append(f"{stamp} {e}")
        self._file_log.info("%s", "\n".join(lines))
        self.close()

    def close(self) -> None:
        """Release the transcript file (reopened by the next session's write)."""
        close_file_logger(self.paths.log_dir, self._log_name)

    def _scan(self, pop: POP3, stat: bool = True, listing: bool = True
              ) -> tuple[Stat | None, list[tuple[int, str]], dict[int, int]]:
        """STAT/UIDL/LIST of *this* session, pipelined into one round trip when
        the server allows: (stat, [(number, uid)], {number: size}). STAT comes
        first: its count bounds the listings (traymail.pop3 caps them)."""
        try:
            st, ids, sizes = pop.scan(stat=stat, listing=listing)
        except ServerError:
            caps = pop.capabilities
            if caps is not None and caps.has("UIDL"):
                raise
            st = pop.stat() if stat else None
            pairs = self._uid_list(pop)
            return st, pairs, ({s.number: s.size for s in pop.list()} if listing else {})
        return st, [(u.number, u.uid) for u in ids], {s.number: s.size for s in sizes or []}

    def _uid_list(self, pop: POP3) -> list[tuple[int, str]]:
        """(number, uid) for every message, from a UIDL in *this* session.

        Without UIDL the identity falls back to size + Message-ID (from TOP),
        which is weaker: two copies of one message look alike. Said in the log."""
        caps = pop.capabilities
        try:
            return [(u.number, u.uid) for u in pop.uidl()]
        except ServerError:
            if caps is not None and caps.has("UIDL"):
                raise
        if not self._no_uidl_noted:
            log.warning("%s: no UIDL; using size + Message-ID as identity", self.name)
            self._no_uidl_noted = True
        self._note("server has no UIDL: messages are identified by size + Message-ID (weaker)")
        sizes = {s.number: s.size for s in pop.list()}
        out: list[tuple[int, str]] = []
        seen: dict[str, int] = {}
        try:
            for n, data in pop.top_many(sorted(sizes), 0):
                mid = parse_headers("", None, data).message_id or hashlib.sha256(data).hexdigest()
                key = "~" + hashlib.sha256(f"{sizes[n]}:{mid}".encode()).hexdigest()[:24]
                seen[key] = seen.get(key, 0) + 1
                out.append((n, key if seen[key] == 1 else f"{key}#{seen[key]}"))
        except ServerError as exc:
            raise CapabilityError("the server has neither UIDL nor TOP; traymail cannot "
                                  "tell messages apart safely") from exc
        return out

    def _sizes(self, pop: POP3, ids: list[tuple[int, str]]) -> dict[str, int | None]:
        known = self.store.sizes(self.name)
        if all(known.get(uid) is not None for _, uid in ids):
            return {uid: known[uid] for _, uid in ids}
        by_number = {s.number: s.size for s in pop.list()}
        return {uid: by_number.get(n) for n, uid in ids}

    # -- check -----------------------------------------------------------------
    def check(self) -> CheckResult:
        """One short session: login, STAT, UIDL (LIST for unknown sizes), QUIT."""
        with self._session() as pop:
            stat_, ids, _ = self._scan(pop, stat=True, listing=False)
            assert stat_ is not None
            stat = stat_
            sizes = self._sizes(pop, ids)
            ruled = self.rules.applies_to(self.name)
            if ruled:  # rules need the headers: TOP n 0, in this session
                ruling.fetch_heads(self, pop, ids, sizes)
        first_run = not self.store.has_history(self.name)
        self.store.sync_uids(self.name, sizes)
        self.store.set_history(self.name)
        flags = self.store.flags(self.name)
        downloaded = self.store.downloads(self.name)
        outcome = (ruling.apply_rules(self, [u for _, u in ids], sizes) if ruled
                   else ruling.RuleOutcome({}))
        new_all = [uid for _, uid in ids if not flags[uid][1] and uid not in downloaded]
        new = [uid for uid in new_all if uid not in outcome.ignored]
        arrived = tuple(uid for uid in new if not flags[uid][0])
        self.store.set_announced(self.name, [*arrived, *(set(new_all) - set(new))])
        if outcome.delete_now:
            self._delete_without_asking(list(outcome.delete_now))
        return CheckResult(len(new), sum(sizes[u] or 0 for u in new), stat.count, stat.size,
                           arrived, first_run,
                           tuple(u for u in arrived if u in outcome.important),
                           None if first_run else
                           outcome.sound_for(arrived, self.account.sound),
                           len(new_all) - len(new))

    def _delete_without_asking(self, uids: list[str]) -> None:
        """A rule's "delete without asking": the usual path (a new session, its
        UIDL re-check, the recorded size), logged."""
        self._note(f"rule log: deleting {len(uids)} message(s) without asking")
        try:
            report = self.delete_marked(only=uids)
        except MailboxError as exc:
            self._note(f"rule log: the deletion failed, the marks stay: {exc}")
            log.warning("%s: rule deletion failed: %s", self.name, exc)
            return
        self._note(f"rule log: deleted {len(report.deleted)}, gone {len(report.gone)}, "
                   f"not deleted {len(report.failed)}")
        log.info("%s: a rule deleted %d message(s) without asking", self.name,
                 len(report.deleted))

    # -- headers -----------------------------------------------------------------
    def cached_headers(self, numbers: dict[str, int] | None = None) -> list[Header]:
        """Headers from the cache only (no network): for an instant window."""
        cache = self.store.headers(self.name)
        flags = self.store.flags(self.name)
        sizes = self.store.sizes(self.name)
        marks = self.store.marks(self.name)
        downloads = self.store.downloads(self.name)
        rule_of = self.store.rule_results(self.name)
        order = list(numbers) if numbers is not None else list(sizes)
        out = []
        for uid in order:
            h = cache.get(uid) or StoredHeader(uid, sizes.get(uid), "", "", "", "", None, "")
            announced_seen = flags.get(uid, (False, False))
            out.append(Header(  # clean again: the cache may predate the rule
                uid, (numbers or {}).get(uid), sizes.get(uid, h.size), clean(h.sender),
                clean(h.recipients), clean(h.subject), clean(h.date), h.timestamp,
                clean(h.message_id),
                new=not announced_seen[1] and uid not in downloads, marked=uid in marks,
                downloaded=downloads.get(uid), rule=rule_of.get(uid, ("", None))[1],
                attachments=h.attachments))
        return out

    def headers(self, new_only: bool = False) -> list[Header]:
        """All messages' headers; only those missing from the cache are fetched
        (pipelined ``TOP n 0``). Without TOP: a clear error, never a RETR."""
        with self._session() as pop:
            _, ids, size_of = self._scan(pop)
            sizes: dict[str, int | None] = {uid: size_of.get(n) for n, uid in ids}
            self.store.sync_uids(self.name, sizes)
            ruled = self.rules.applies_to(self.name)
            if ruled:  # rules need the header blocks; this fills the cache too
                ruling.fetch_heads(self, pop, ids, sizes)
            cache = self.store.headers(self.name)
            missing = [(n, uid) for n, uid in ids if uid not in cache]
            if missing:
                caps = pop.capabilities
                if caps is not None and caps.supported and not caps.has("TOP"):
                    raise CapabilityError("the server does not support TOP, so headers "
                                          "cannot be shown without downloading the messages")
                by_number = dict(missing)
                batch: list[StoredHeader] = []
                for n, data in pop.top_many([n for n, _ in missing], 0):
                    uid = by_number[n]
                    batch.append(parse_headers(uid, sizes.get(uid), data))
                    if len(batch) >= 500:
                        self.store.put_headers(self.name, batch)
                        batch = []
                self.store.put_headers(self.name, batch)
        if ruled:
            ruling.apply_rules(self, [u for _, u in ids], sizes)
        result = self.cached_headers({uid: n for n, uid in ids})
        return [h for h in result if h.new] if new_only else result

    def preview(self, uid: str, lines: int = 20) -> str:
        """The first body lines (TOP), as text; the message stays unread on the server."""
        return self.preview_details(uid, lines).text

    def preview_details(self, uid: str, lines: int = 40) -> Preview:
        """The first body lines (TOP) as text, and the attachments they show
        (RFC 1939 §7 TOP; the message stays unread on the server)."""
        with self._session() as pop:
            number = {u: n for n, u in self._scan(pop, listing=False)[1]}.get(uid)
            if number is None:
                raise MailboxError("that message is no longer on the server", AccountState.OK)
            caps = pop.capabilities
            if caps is not None and caps.supported and not caps.has("TOP"):
                raise CapabilityError("the server does not support TOP, so there is no "
                                      "preview without downloading the message")
            data = pop.top(number, lines)
        return preview_details(data)

    # -- downloads -----------------------------------------------------------------
    def download(self, uids: list[str], progress: Progress | None = None,
                 cancel: threading.Event | None = None) -> list[Path]:
        """Download to ``.eml`` files: RETR streamed to a temp file, fsync, atomic
        rename. Already downloaded: no-op. Returns the files, in ``uids`` order.
        A message that cannot be saved (a local file error) does not stop the
        others: they are saved, then :class:`DownloadFailed` names the failed
        ones, which stay new."""
        done = self.store.downloads(self.name)
        todo = [u for u in dict.fromkeys(uids) if u not in done]
        files: dict[str, Path] = {u: done[u] for u in uids if u in done}
        failed: list[tuple[str, str]] = []
        if todo:
            fetched, failed = self._fetch(todo, progress, cancel)
            files.update(fetched)
        result = [files[u] for u in uids if u in files]
        if failed:
            raise DownloadFailed(result, failed, len(todo))
        return result

    def download_new(self, progress: Progress | None = None,
                     cancel: threading.Event | None = None) -> list[Path]:
        """Download every new message (not seen, not yet downloaded)."""
        done = self.store.downloads(self.name)
        new = [uid for uid, (_a, seen) in self.store.flags(self.name).items()
               if not seen and uid not in done]
        return self.download(new, progress, cancel)

    def _fetch(self, todo: list[str], progress: Progress | None, cancel: threading.Event | None
               ) -> tuple[dict[str, Path], list[tuple[str, str]]]:
        target = self.paths.download_dir_for(self.account)
        if self.account.download_dir:  # the user's folder keeps its mode
            private_dir(target, own=False)
        else:
            private_dir(self.paths.download_dir)
            private_dir(target)
        cache = self.store.headers(self.name)
        out: dict[str, Path] = {}
        failed: list[tuple[str, str]] = []
        open_files: dict[int, ProgressFile] = {}
        with self._session() as pop:
            _, ids, size_of = self._scan(pop)
            numbers = {u: n for n, u in ids}
            sizes = {u: size_of.get(numbers[u]) for u in todo if u in numbers}
            want = [u for u in todo if u in numbers]
            gone = [u for u in todo if u not in numbers]
            if gone:
                self._note(f"{len(gone)} message(s) to download are no longer on the server")
            total = sum(sizes.get(u) or 0 for u in want)
            counter = [0]
            by_number = {numbers[u]: u for u in want}

            def sink(n: int) -> ProgressFile:
                key = f"{self.name}\0{by_number[n]}".encode()
                tag = hashlib.sha256(key).hexdigest()[:16]
                f = ProgressFile(target / f".traymail-{tag}.part", counter, total,
                                  progress, cancel)
                open_files[n] = f
                return f

            try:
                for n, octets in pop.retr_many([numbers[u] for u in want], sink):
                    uid, f = by_number[n], open_files.pop(n)
                    try:
                        final = eml_path(target, uid, cache.get(uid), f.head)
                        f.keep_as(final)
                        self.store.add_download(self.name, uid, final, octets)
                        out[uid] = final
                    except OSError as exc:  # this message only; the batch goes on
                        failed.append((uid, exc.strerror or str(exc)))
                        self._note(f"message {uid} was not saved: {exc.strerror or exc}")
                        log.warning("%s: message %s was not saved: %s", self.name, uid, exc)
                    finally:
                        f.discard()  # the temp file never outlives an error
            finally:
                for f in open_files.values():  # a half file never gets a final name
                    f.discard()
        return out, failed

    # -- marks and deletion ----------------------------------------------------------
    def mark(self, uids: list[str]) -> None:
        sizes = self.store.sizes(self.name)
        self.store.mark(self.name, {u: sizes.get(u) for u in uids})

    def unmark(self, uids: list[str]) -> None:
        self.store.unmark(self.name, uids)

    def marked(self) -> list[str]:
        return list(self.store.marks(self.name))

    def delete_marked(self, only: list[str] | None = None) -> DeleteReport:
        """One session: UIDL re-check, DELE exactly the marked messages still
        there with the recorded size, QUIT. Any error before QUIT deletes nothing.
        ``only`` restricts it to some of the marks."""
        marks = self.store.marks(self.name)
        if only is not None:
            marks = {u: s for u, s in marks.items() if u in set(only)}
        if not marks:
            return DeleteReport()
        deleted: list[str] = []
        gone: list[str] = []
        failed: list[tuple[str, str]] = []
        with self._session() as pop:
            _, ids, sizes = self._scan(pop)  # the UIDL re-check, in this session
            numbers = {u: n for n, u in ids}
            chosen: list[tuple[str, int]] = []
            for uid, size in marks.items():
                n = numbers.get(uid)
                if n is None:
                    gone.append(uid)
                elif size is not None and sizes.get(n) != size:
                    failed.append((uid, "its size changed: the server may have reused the "
                                        "id for another message; not deleted"))
                else:
                    chosen.append((uid, n))
            if chosen:
                pop.dele_many([n for _, n in chosen])
                self._note(f"deleting {len(chosen)} message(s) at QUIT")
                try:
                    pop.quit()  # RFC 1939 §6: the deletions happen now
                except POP3Error as exc:
                    failed += [(u, f"the server did not confirm QUIT ({exc}); check again "
                                   "to see what remains") for u, _ in chosen]
                    chosen = []
                deleted = [u for u, _ in chosen]
        self.store.forget(self.name, deleted + gone)
        return DeleteReport(tuple(deleted), tuple(gone), tuple(failed))

    def quit_without_deleting(self) -> int:
        """Discard every mark; the server keeps everything. Returns how many."""
        count = len(self.store.marks(self.name))
        self.store.unmark(self.name)
        return count

    def mark_all_seen(self) -> None:
        self.store.set_seen(self.name, True)

    def forget_seen(self) -> None:
        self.store.set_seen(self.name, False)
