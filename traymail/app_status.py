"""What the app shows of the checks: results from the poller, the toasts
and sounds for new mail, and the tray icon with its title (mixed into
:class:`~traymail.app.App`; everything here but the worker half runs on the
Tk thread)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import heap
from .i18n import _, format_size, format_time, ngettext
from .icons import IconState, png_bytes, tray_icon
from .mailbox import CheckResult, Header, Mailbox, MailboxError
from .notify import TOAST_LINES, Notifier, Toast, toast_text
from .private import create_private, private_dir
from .session import AccountState

if TYPE_CHECKING:

    from .accounts import Accounts
    from .settings import Paths
    from .sound import Player
    from .tray import Tray
    from .ui.mailbox_window import MailboxWindow
    from .ui.tooltip import Tooltip
    from .ui.worker import TkBridge

__all__ = ["AppStatus", "cut_words"]

#: after a check result, when its memory is handed back (traymail.heap); once per check
_RELEASE_AFTER_MS = 2000
_PROBLEM = (AccountState.AUTH_FAILED, AccountState.STOPPED, AccountState.ERROR,
            AccountState.BACKOFF, AccountState.NEEDS_SIGN_IN)


def cut_words(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut between words with an ellipsis
    (Windows truncates tooltips at 127)."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if " " in head:
        head = head[: head.rindex(" ")]
    return head.rstrip(" ,;:") + "…"


class AppStatus:
    """Results in, toasts and the icon out; the parts come from the app class."""

    if TYPE_CHECKING:  # provided by App
        paths: Paths
        accounts: Accounts
        bridge: TkBridge
        title_note: str
        results: dict[str, CheckResult]
        errors: dict[str, MailboxError]
        checking: set[str]
        toasts: list[Toast]
        sound: Player
        important: dict[str, set[str]]
        mailbox_window: MailboxWindow | None
        tray: Tray | None
        _tooltip: Tooltip | None
        notifier: Notifier | None
        internal_error: str
        paused: Callable[[], bool]
        _notice: Callable[..., None]

    def _started(self, mb: Mailbox) -> None:
        self.checking.add(mb.name)
        self.refresh_icon()

    def _result_in_worker(self, mb: Mailbox, result: CheckResult | None,
                          error: MailboxError | None) -> None:
        """Poller thread: gather what a toast needs, then hand over to Tk."""
        headers: list[Header] = []
        size = 0
        if result is not None:  # important mail still new: keeps the badge's colour
            flags, done = mb.store.flags(mb.name), mb.store.downloads(mb.name)
            keep = {u for u in self.important.get(mb.name, set()) | set(result.important)
                    if u in flags and not flags[u][1] and u not in done}
            self.bridge.post(lambda: self.important.__setitem__(mb.name, keep))
        if result is not None and result.newly_arrived:
            sizes = mb.store.sizes(mb.name)
            size = sum(sizes.get(u) or 0 for u in result.newly_arrived)
            # senders/subjects for the toast's lines; the other new ones' headers
            # go to the cache (TOP) for the mailbox window, not into memory
            shown = result.newly_arrived[:TOAST_LINES]
            try:
                headers = mb.headers(want=shown)
            except MailboxError:
                headers = mb.cached_headers(dict.fromkeys(shown, 0))
        self.bridge.post(lambda: self._on_result(mb, result, error, size, headers))

    def _on_result(self, mb: Mailbox, result: CheckResult | None, error: MailboxError | None,
                   arrived_size: int, headers: list[Header]) -> None:
        self.checking.discard(mb.name)
        if error is not None:
            first = mb.name not in self.errors
            self.errors[mb.name] = error
            if first and error.state is AccountState.NEEDS_SIGN_IN:
                # the same words as oauth.py's NeedsSignIn texts: the toast's title
                # is cut off their start (in every language)
                title = _("Sign in again to {account}").format(account=mb.name)
                self._notice(str(error).removeprefix(title + ": "), title=title)  # once
            elif first and error.state in (AccountState.AUTH_FAILED, AccountState.STOPPED):
                self._notice(f"{mb.name}: {error}")  # said once, not at every poll
        else:
            self.errors.pop(mb.name, None)
        if result is not None:
            self.results[mb.name] = result
            shown = result
            if self.paused() and result.important:  # an "important" rule: a toast anyway
                shown = replace(result, newly_arrived=result.important)
            if result.newly_arrived and result.sound:
                self.sound.play(result.sound, paused=self.paused(),
                                quiet_hours=self.accounts.settings.quiet_hours)
            if shown.newly_arrived and self.accounts.settings.notifications \
                    and (not self.paused() or shown is not result):
                toast = toast_text(mb.name, shown, arrived_size, headers,
                                   len(self.accounts.names) > 1)
                self.toasts.append(toast)
                if self.notifier is not None:
                    self.notifier.show(toast.title, toast.message)
        if self.mailbox_window is not None and self.mailbox_window.alive \
                and result is not None and result.newly_arrived:
            self.mailbox_window.refresh()
        self.refresh_icon()
        # once the check's follow-ups (toast, icon) are done: what it freed goes back
        self.bridge.after(_RELEASE_AFTER_MS, heap.release)

    def icon_and_title(self) -> tuple[Any, str]:
        new = sum(r.new_count for r in self.results.values())
        size = sum(r.new_size for r in self.results.values())
        problems = {n: e for n, e in self.errors.items() if e.state in _PROBLEM}
        if problems or self.internal_error:
            state = IconState.ERROR
        elif self.checking and not self.results:
            state = IconState.CHECKING
        elif self.paused():
            state = IconState.PAUSED
        elif new:
            state = IconState.NEW
        else:
            state = IconState.IDLE
        parts = [ngettext("traymail{note} — {n} new ({size})", "traymail{note} — {n} new ({size})",
                          new).format(note=self.title_note, n=new, size=format_size(size))]
        times = [mb.status.checked_at for mb in self.accounts.mailboxes()
                 if mb.status.checked_at]
        if times:
            parts.append(_("checked {time}").format(time=format_time(max(times))))
        if len(problems) == 1:
            name, err = next(iter(problems.items()))
            parts.append(f"{name}: {err}")
        elif problems:  # every failing account by name
            parts.append(_("failing: {accounts}").format(accounts=", ".join(problems)))
        elif self.internal_error:
            parts.append(_("{error} (see the log)").format(error=self.internal_error[:60]))
        if self.paused():
            parts.append(_("paused"))
        if not self.accounts.names:
            parts = [_("traymail — no account: open Settings")]
        important = any(self.important.values())  # rules: the badge's colour
        return tray_icon(state, new, important), cut_words(", ".join(parts), 127)

    def refresh_icon(self) -> None:
        if self.tray is not None:
            image, title = self.icon_and_title()
            self.tray.update(image, title)
            tip = self._tooltip
            if tip is not None and tip.visible:  # shown while a poll ends: it follows
                tip.label.configure(text=title)  # type: ignore[union-attr]

    def _icon_file(self) -> Path | None:
        try:
            path = self.paths.state_dir / "traymail-64.png"
            if not path.exists():
                private_dir(path.parent)
                try:
                    with os.fdopen(create_private(path), "wb") as f:
                        f.write(png_bytes(tray_icon()))
                except FileExistsError:  # another instance drew it meanwhile
                    pass
            return path
        except OSError:
            return None
