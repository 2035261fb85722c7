"""Toasts through desktop-notifier: WinRT on Windows, D-Bus on Linux.

desktop-notifier is asyncio-based: it gets one event loop in its own thread,
started at the first toast (an app with nothing to say never imports asyncio,
desktop-notifier or dbus-fast) and kept from then on.
A click on a toast calls ``on_click`` in that thread; the app hands it to
the Tk thread. When the platform has no notification service, the failure
is logged once and the toast goes to ``fallback`` (the tray's balloon on
Windows) or nowhere (the badge still tells); every later toast tries the
service again, so one that starts after traymail is used from then on.

Where a left click on a toast only closes it -- dunst's stock
``mouse_left_click = close_current``, xfce4-notifyd, which has no default
action -- a user's dismissal (NotificationClosed reason 2, Desktop
Notifications spec "Signals") counts as the click: it opens the mailbox.
Where the click runs the default action, desktop-notifier reports the action
and drops the close that follows, so it is never run twice.

Subjects and senders are anyone's text: where the D-Bus notification server
announces ``body-markup`` (Desktop Notifications spec, GetCapabilities) it
would render ``<b>``, ``<a href>`` and ``<img>`` from a sender, so the body
is escaped there (:func:`traymail.text.escape_markup`) and arrives literally.

:func:`toast_text` words the new-mail toast in the user's language
(:mod:`traymail.i18n`: "2 новых письма (1,4 КБ)").
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .i18n import _, format_size, ngettext
from .text import escape_markup

if TYPE_CHECKING:
    from asyncio import AbstractEventLoop
    from concurrent.futures import Future

    from .mailbox import CheckResult, Header

__all__ = ["TOAST_LINES", "Notifier", "Toast", "toast_text"]

log = logging.getLogger("traymail.notify")
_T = TypeVar("_T")

#: notification servers whose left click only closes a toast (stock settings)
DISMISS_IS_CLICK = frozenset({"dunst", "Xfce Notify Daemon"})


#: new messages named in a toast, one line each ("and N more" after them)
TOAST_LINES = 3


@dataclass(frozen=True)
class Toast:
    title: str
    message: str


def toast_text(account: str, result: CheckResult, arrived_size: int,
               headers: list[Header], several_accounts: bool) -> Toast:
    """ "3 new messages (45 KB)" with the top senders/subjects; one summary on first run."""
    n = len(result.newly_arrived)
    where = f" — {account}" if several_accounts else ""
    size = format_size(arrived_size)
    if result.first_run:
        title = ngettext("{n} message waiting ({size}){where}",
                         "{n} messages waiting ({size}){where}", n)
    else:
        title = ngettext("{n} new message ({size}){where}",
                         "{n} new messages ({size}){where}", n)
    title = title.format(n=n, size=size, where=where)
    by_uid = {h.uid: h for h in headers}
    lines = []
    for uid in result.newly_arrived[:TOAST_LINES]:
        h = by_uid.get(uid)
        if h is not None:
            sender = h.sender.split("<")[0].strip().strip('"') or h.sender
            # TRANSLATORS: one line of the new-mail toast: "sender: subject"
            lines.append(_("{sender}: {subject}").format(
                sender=sender, subject=h.subject or _("(no subject)")))
    if n > len(lines) and lines:
        more = n - len(lines)
        # TRANSLATORS: the last line of the new-mail toast, after up to 3 messages
        lines.append(ngettext("and {n} more", "and {n} more", more).format(n=more))
    return Toast(title, "\n".join(lines) or _("Click to open the mailbox."))


class Notifier:
    def __init__(self, on_click: Callable[[], None], *, app_name: str = "traymail",
                 icon_path: Path | None = None,
                 fallback: Callable[[str, str], bool] | None = None) -> None:
        self.on_click = on_click
        self.app_name = app_name
        self.icon_path = icon_path
        self.fallback = fallback
        self.failed = False
        #: (title, message, how) of every toast shown: "native", "fallback" or "none"
        self.history: list[tuple[str, str, str]] = []
        #: the event loop and its thread, made by the first toast (or start())
        self._loop: AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._created: Future[None] | None = None
        self._lock = threading.Lock()
        self._notifier: Any = None
        #: the notification server renders body markup: escape the body
        self.markup = False
        #: the server's name (GetServerInformation); "" when unknown
        self.server = ""

    def start(self) -> None:
        """Connect to the notification service now and wait for it (at most
        10 s); without this the first :meth:`show` does it."""
        self._ensure_loop()
        assert self._created is not None
        self._created.result(10)

    def _ensure_loop(self) -> AbstractEventLoop:
        """The loop thread, started with the service's set-up queued first
        (any thread; once)."""
        with self._lock:
            if self._loop is None:
                import asyncio

                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever,
                                                name="traymail-notifier", daemon=True)
                self._thread.start()
                self._created = asyncio.run_coroutine_threadsafe(self._create(), self._loop)
            return self._loop

    async def _create(self) -> None:
        try:
            from desktop_notifier import DesktopNotifier, Icon

            icon = Icon(path=self.icon_path) if self.icon_path else None
            self._notifier = DesktopNotifier(app_name=self.app_name, app_icon=icon)
        except Exception as exc:  # no backend for this platform
            self._give_up(exc)
        if sys.platform.startswith("linux"):
            self.markup = await _body_markup()
            self.server = await _server_name()

    @property
    def dismiss_is_click(self) -> bool:
        """A left click on this server's toasts closes them without the default action."""
        return self.server in DISMISS_IS_CLICK

    def show(self, title: str, message: str) -> Future[None]:
        """Queue a toast (any thread); the future completes once it was handed over."""
        import asyncio

        return asyncio.run_coroutine_threadsafe(self._send(title, message), self._ensure_loop())

    async def _send(self, title: str, message: str) -> None:
        import asyncio

        assert self._created is not None
        # the service and its capabilities (markup) are known before any toast
        await asyncio.wrap_future(self._created)
        # after a failure every toast still tries the service first: it may
        # start after traymail does (the login race) and toasts come back
        if self._notifier is not None:
            dispatched: list[bool] = []
            try:
                # desktop-notifier logs and swallows a failed send; on_dispatched
                # is how we learn that the toast really went out
                body = escape_markup(message) if self.markup else message
                extra = {"on_dismissed": self._clicked} if self.dismiss_is_click else {}
                await self._notifier.send(title=title, message=body,
                                          on_clicked=self._clicked,
                                          on_dispatched=lambda: dispatched.append(True),
                                          **extra)
            except Exception as exc:
                self._give_up(exc)
            if dispatched:
                if self.failed:
                    log.warning("the notification service is back; toasts are shown again")
                    self.failed = False
                self.history.append((title, message, "native"))
                return
            self._give_up(RuntimeError("the notification service refused the toast"))
        how = "fallback" if self.fallback is not None and self.fallback(title, message) else "none"
        self.history.append((title, message, how))

    def _give_up(self, exc: BaseException) -> None:
        if not self.failed:
            log.warning("no notification service (%s); new mail shows on the icon only", exc)
        self.failed = True

    def _clicked(self) -> None:
        try:
            self.on_click()
        except Exception:
            log.exception("toast click handler failed")

    def stop(self) -> None:
        if self._thread is None or self._loop is None or not self._thread.is_alive():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    @property
    def threads(self) -> list[threading.Thread]:
        return [] if self._thread is None else [self._thread]


async def _body_markup() -> bool:
    """Whether the session's notification server announces ``body-markup``.
    When it cannot be asked, assume it does: an escaped body is at worst
    shown with entities, an unescaped one may render a sender's markup."""
    return await _ask_server("GetCapabilities", "capabilities",
                             lambda caps: "body-markup" in caps, True)


async def _server_name() -> str:
    """The notification server's name (GetServerInformation), "" if unknown."""
    return await _ask_server("GetServerInformation", "name",
                             lambda name: str(name)[:80], "")


async def _ask_server(member: str, what: str, pick: Callable[[Any], _T], default: _T) -> _T:
    """``pick`` applied to the first value that the session's notification
    server returns for ``member`` (Desktop Notifications spec, "D-BUS
    Protocol"); ``default`` when it cannot be asked or answers badly."""
    import asyncio

    try:
        from dbus_fast import Message, MessageType
        from dbus_fast.aio import MessageBus

        bus = await asyncio.wait_for(MessageBus().connect(), 5)
        try:
            reply = await asyncio.wait_for(bus.call(Message(
                destination="org.freedesktop.Notifications",
                path="/org/freedesktop/Notifications",
                interface="org.freedesktop.Notifications", member=member)), 5)
        finally:
            bus.disconnect()
        if reply is None or reply.message_type is not MessageType.METHOD_RETURN:
            return default
        return pick(reply.body[0])
    except Exception as exc:
        log.debug("cannot ask the notification server for its %s: %s", what, exc)
        return default
