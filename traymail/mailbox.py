"""The mailbox engine: one :class:`Mailbox` per account.

POP3 has no "new" flag and message numbers last one session (RFC 1939 §5),
so everything here is keyed by UIDL. "New" = on the server, not downloaded,
not marked seen by the user; ``newly_arrived`` = new and never announced.
Deletion maps each marked UID to its number with a UIDL *in the same
session*, checks the size, and DELEs only those; any error before QUIT ends
with RSET (or a dropped connection): nothing is deleted.

A per-account lock keeps two sessions from ever running at once. No GUI here.
The decoder, OAuth2 and the download writer are imported when an operation
needs them: a ``traymail check`` loads none of them.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .deletion import Deleting
from .files import DownloadCancelled, DownloadFailed, abort, close_file_logger, file_logger
from .i18n import _
from .listing import sync_listing
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
from .results import CheckResult, DeleteReport, Header
from .ruleset import RuleSet
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

if TYPE_CHECKING:
    from .mimeinfo import Preview
    from .oauth import TokenManager

__all__ = ["Mailbox", "CheckResult", "Header", "DeleteReport", "MailboxError",
           "AccountState", "AccountStatus", "DownloadCancelled", "DownloadFailed"]

log = logging.getLogger("traymail.mailbox")
Progress = Callable[[int, int], None]
TRANSCRIPT_LINES = 5000


class Mailbox(Deleting):
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
        self._tokens = tokens
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
    def tokens(self) -> TokenManager:
        """OAuth2 tokens (the keyring by default; made, and traymail.oauth
        imported, only when an OAuth2 account needs them)."""
        if self._tokens is None:
            from .oauth import default_manager

            self._tokens = default_manager()
        return self._tokens

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
            raise MailboxError(_("no password is stored for {user}; set one in Settings or "
                                 "with 'traymail set-password'").format(
                                     user=self.account.keyring_user), AccountState.STOPPED)
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
            except _session_errors() as exc:
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
            st, pairs, sizes = pop.scan_pairs(stat=stat, listing=listing)
        except ServerError:
            caps = pop.capabilities
            if caps is not None and caps.has("UIDL"):
                raise
            st = pop.stat() if stat else None
            pairs = self._uid_list(pop)
            return st, pairs, ({s.number: s.size for s in pop.list()} if listing else {})
        return st, pairs, {s.number: s.size for s in sizes or []}

    def _uid_list(self, pop: POP3) -> list[tuple[int, str]]:
        """(number, uid) from a UIDL in *this* session (traymail.listing)."""
        from .listing import uid_list

        return uid_list(pop, self._note, self._warn_no_uidl)

    def _warn_no_uidl(self) -> None:
        if not self._no_uidl_noted:
            log.warning("%s: no UIDL; using size + Message-ID as identity", self.name)
            self._no_uidl_noted = True

    # -- check -----------------------------------------------------------------
    def check(self) -> CheckResult:
        """One short session: login, STAT, UIDL (LIST for unknown sizes), QUIT. A
        listing identical to the last one synced (same digest) is not synced again."""
        with self._session() as pop:
            stat_, ids, _sizes = self._scan(pop, stat=True, listing=False)
            assert stat_ is not None
            stat = stat_
            first_run = not self.store.has_history(self.name)
            uids = sync_listing(pop, self.store, self.name, ids)
            ruled = self.rules.applies_to(self.name)
            if ruled:  # rules need the headers: TOP n 0, in this session
                from . import ruling

                sizes = self.store.sizes(self.name)
                ruling.fetch_heads(self, pop, ids, sizes)
        self.store.set_history(self.name)
        unseen = self.store.unseen(self.name)
        new_all = self._not_downloaded([uid for uid in uids if uid in unseen])
        if not ruled:  # no rules: the new ones as they are
            arrived = tuple(uid for uid in new_all if not unseen[uid][1])
            self.store.set_announced(self.name, arrived)
            return CheckResult(len(new_all), sum(unseen[u][0] or 0 for u in new_all),
                               stat.count, stat.size, arrived, first_run,
                               sound=None if first_run or not arrived else self.account.sound)
        outcome = ruling.apply_rules(self, uids, sizes)
        new = [uid for uid in new_all if uid not in outcome.ignored]
        arrived = tuple(uid for uid in new if not unseen[uid][1])
        self.store.set_announced(self.name, [*arrived, *(set(new_all) - set(new))])
        if outcome.delete_now:
            ruling.delete_without_asking(self, list(outcome.delete_now))
        return CheckResult(len(new), sum(unseen[u][0] or 0 for u in new), stat.count,
                           stat.size, arrived, first_run,
                           tuple(u for u in arrived if u in outcome.important),
                           None if first_run else
                           outcome.sound_for(arrived, self.account.sound),
                           len(new_all) - len(new))

    def _not_downloaded(self, uids: list[str]) -> list[str]:
        """Those of ``uids`` with no downloaded file (only they are looked up on disk)."""
        files = self.store.download_paths(self.name)
        return [u for u in uids if u not in files or not files[u].exists()]

    # -- headers -----------------------------------------------------------------
    def cached_headers(self, numbers: dict[str, int] | None = None) -> list[Header]:
        """Headers from the cache only (no network): for an instant window."""
        few = list(numbers) if numbers is not None and len(numbers) <= 200 else None
        cache = self.store.headers(self.name, few)  # a few: only their rows are read
        flags = self.store.flags(self.name, few)
        sizes = self.store.sizes(self.name, few)
        marks = self.store.marks(self.name)
        downloads = self.store.downloads(self.name, few)
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

    def headers(self, new_only: bool = False, want: Collection[str] | None = None
                ) -> list[Header]:
        """All messages' headers (``new_only``: the new ones); only those missing
        from the cache are fetched (pipelined ``TOP n 0``, stored 100 at a
        time). ``want``: the cache is filled all the same, but only these are
        returned (a toast's few). Without TOP: a clear error, never a RETR."""
        with self._session() as pop:
            if new_only:  # only the new ones: synced as a check does, fetched, shown
                ids = self._scan(pop, stat=False, listing=False)[1]
                uids = sync_listing(pop, self.store, self.name, ids)
                unseen = self.store.unseen(self.name)
                new = set(self._not_downloaded([u for u in uids if u in unseen]))
                ids = [(n, u) for n, u in ids if u in new]
                sizes = {u: unseen[u][0] for _, u in ids}
            else:
                _stat, ids, size_of = self._scan(pop)
                sizes = {uid: size_of.get(n) for n, uid in ids}
                self.store.sync_uids(self.name, sizes)
            ruled = self.rules.applies_to(self.name)
            if ruled:  # rules need the header blocks; this fills the cache too
                from . import ruling

                ruling.fetch_heads(self, pop, ids, sizes)
            cached = self.store.header_uids(self.name)
            missing = [(n, uid) for n, uid in ids if uid not in cached]
            del cached
            if missing:
                caps = pop.capabilities
                if caps is not None and caps.supported and not caps.has("TOP"):
                    raise CapabilityError(_("the server does not support TOP, so headers "
                                            "cannot be shown without downloading the "
                                            "messages"))
                by_number = dict(missing)
                from .decode import parse_headers

                batch: list[StoredHeader] = []
                for n, data in pop.top_many([n for n, _ in missing], 0):
                    uid = by_number[n]
                    batch.append(parse_headers(uid, sizes.get(uid), data))
                    if len(batch) >= 100:
                        self.store.put_headers(self.name, batch)
                        batch = []
                self.store.put_headers(self.name, batch)
        if ruled:
            ruling.apply_rules(self, [u for _, u in ids], sizes)
        result = self.cached_headers({uid: n for n, uid in ids if want is None or uid in want})
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
                raise MailboxError(_("that message is no longer on the server"),
                                   AccountState.OK)
            caps = pop.capabilities
            if caps is not None and caps.supported and not caps.has("TOP"):
                raise CapabilityError(_("the server does not support TOP, so there is no "
                                        "preview without downloading the message"))
            data = pop.top(number, lines)
        from .mimeinfo import preview_details

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
        from .download import fetch_files

        target = self.paths.download_dir_for(self.account)
        if self.account.download_dir:  # the user's folder keeps its mode
            private_dir(target, own=False)
        else:
            private_dir(self.paths.download_dir)
            private_dir(target)
        cache = self.store.headers(self.name)
        with self._session() as pop:
            _stat, ids, size_of = self._scan(pop)
            numbers = {u: n for n, u in ids}
            want = [u for u in todo if u in numbers]
            gone = len(todo) - len(want)
            if gone:
                self._note(f"{gone} message{'s' if gone != 1 else ''} to download "
                           f"{'are' if gone != 1 else 'is'} no longer on the server")
            total = sum(size_of.get(numbers[u]) or 0 for u in want)
            return fetch_files(pop, self.store, self.name, target, numbers, want, total,
                               cache, progress, cancel, self._note)

    # -- marks and deletion ----------------------------------------------------------
    def mark_all_seen(self) -> None:
        self.store.set_seen(self.name, True)

    def forget_seen(self) -> None:
        self.store.set_seen(self.name, False)


def _session_errors() -> tuple[type[BaseException], ...]:
    """What ends a session as an account state. OAuth2Error only once
    traymail.oauth is loaded (nothing else can raise it)."""
    oauth = sys.modules.get("traymail.oauth")
    base = (POP3Error, OSError, KeyringUnavailable, MailboxError)
    return base if oauth is None else (*base, oauth.OAuth2Error)
