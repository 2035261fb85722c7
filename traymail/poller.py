"""The poller: checks each enabled account on its own interval.

Never faster than the server's LOGIN-DELAY; never two sessions on one
account (a busy mailbox is skipped); after a failure the engine's
``retry_at`` decides (back-off, wait), and an account that needs the user
(wrong password, permanent failure) is not polled until its settings change
or the user asks ("Check now"). Deadlines are wall-clock times checked at
least every second, so sleep/resume and network loss need nothing special:
the next check simply runs. No GUI imports.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .accounts import Accounts
from .i18n import _
from .mailbox import CheckResult, Mailbox, MailboxError
from .session import AccountState

__all__ = ["Poller"]

log = logging.getLogger("traymail.poller")
Outcome = Callable[[Mailbox, CheckResult | None, MailboxError | None], None]
#: states that wait for the user rather than for time
_NEEDS_USER = (AccountState.AUTH_FAILED, AccountState.STOPPED, AccountState.NEEDS_SIGN_IN)


class Poller:
    def __init__(self, accounts: Accounts, on_result: Outcome, *,
                 on_start: Callable[[Mailbox], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.accounts = accounts
        self.on_result = on_result
        self.on_start = on_start or (lambda mb: None)
        self.clock = clock
        self._due: dict[str, float] = {}
        self._fingerprints: dict[str, object] = {}
        self._running: dict[str, threading.Thread] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traymail-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        for t in list(self._running.values()):
            t.join(timeout)

    @property
    def threads(self) -> list[threading.Thread]:
        return [self._thread, *self._running.values()]

    def check_now(self, name: str | None = None) -> None:
        for mb in self.accounts.mailboxes():
            if name is None or mb.name == name:
                self._due[mb.name] = 0.0
        self._wake.set()

    def next_due(self, name: str) -> float | None:
        return self._due.get(name)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            soonest = now + 1.0
            for mb in self.accounts.mailboxes():
                fp = (mb.account.fingerprint(), mb.account.check_interval_minutes)
                if self._fingerprints.get(mb.name) != fp:  # new or changed: check now
                    self._fingerprints[mb.name] = fp
                    self._due[mb.name] = 0.0
                due = self._due.get(mb.name, 0.0)
                if due == float("inf"):
                    continue
                if due <= now and mb.name not in self._running and not mb.busy:
                    self._launch(mb)
                else:
                    soonest = min(soonest, max(due, now + 0.05))
            self._wake.wait(max(0.05, min(1.0, soonest - self.clock())))
            self._wake.clear()

    def _launch(self, mb: Mailbox) -> None:
        self._due[mb.name] = float("inf")  # until this check finishes

        def run() -> None:
            result: CheckResult | None = None
            error: MailboxError | None = None
            try:
                self.on_start(mb)
                result = mb.check()
            except MailboxError as exc:
                error = exc
            except Exception as exc:  # never let a bug stop the polling
                log.exception("check of %s failed", mb.name)
                error = MailboxError(_("internal error: {error}").format(error=exc))
            finally:
                self._running.pop(mb.name, None)
            self._due[mb.name] = self._next(mb, error)
            try:
                self.on_result(mb, result, error)
            except Exception:
                log.exception("poll result handler failed")
            self._wake.set()

        t = threading.Thread(target=run, name=f"traymail-check-{mb.name}", daemon=True)
        self._running[mb.name] = t
        t.start()

    def _next(self, mb: Mailbox, error: MailboxError | None) -> float:
        now = self.clock()
        interval = max(mb.account.check_interval_minutes * 60, float(mb.login_delay or 0))
        if error is None:
            return now + interval
        status = mb.status
        if status.state in _NEEDS_USER:
            return float("inf")  # until the settings change or "Check now"
        return status.retry_at if status.retry_at is not None else now + interval
