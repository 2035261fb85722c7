"""The desktop app: tray icon, poller, toasts and the Tk windows.

Threads: the main thread runs the bridge's queue (:meth:`TkBridge.run`) and,
from the first window on, Tk's main loop (root hidden; an app that never
opened a window has no Tk, ~10 MiB less at rest); pystray runs in
a daemon thread, the poller and its checks in theirs, desktop-notifier in an
asyncio loop thread (from the first toast on), the single-instance listener in
another. Every one of them only *posts* to the main thread
(:class:`~traymail.ui.worker.TkBridge`);
the main thread owns the windows, the state shown, and stops everything.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from . import display_watch
from .accounts import Accounts
from .app_status import AppStatus, cut_words
from .applog import close_logging, setup_logging
from .i18n import _
from .instance import InstanceServer
from .mailbox import CheckResult, MailboxError
from .notify import Notifier, Toast, toast_text
from .platform_support import PlatformSupport, autostart_command, platform_support
from .poller import Poller
from .settings import Paths
from .sound import Player
from .tray import SEPARATOR, MenuEntry, Tray
from .ui.worker import TkBridge

if TYPE_CHECKING:  # the windows are imported when first opened (an idle app has none)
    import tkinter as tk

    from .ui.log_window import LogWindow
    from .ui.mailbox_window import MailboxWindow
    from .ui.settings_dialog import SettingsDialog
    from .ui.tooltip import Tooltip

__all__ = ["App", "Toast", "toast_text", "cut_words", "setup_logging", "close_logging"]

log = logging.getLogger("traymail.app")


class App(AppStatus):
    def __init__(self, paths: Paths, *, accounts: Accounts | None = None,
                 use_tray: bool = True, use_notifier: bool = True,
                 single_instance: bool = True, platform: PlatformSupport | None = None,
                 title_note: str = "", demo: bool = False,
                 instance_paths: Paths | None = None) -> None:
        self.paths = paths
        #: the demo never touches the real autostart (its home is thrown away)
        self.demo = demo
        # before any window (pystray's on Windows), as Tk used to do first
        platform_support().enable_dpi_awareness()
        #: Tk's root, made by the first window (:attr:`root`)
        self._root: tk.Tk | None = None
        #: the real app's process (run()): a lost display ends it (display_watch)
        self._watch_display = False
        self.bridge = TkBridge()
        self.accounts = accounts or Accounts(paths)
        self.platform = platform or platform_support()
        self.title_note = title_note
        self.results: dict[str, CheckResult] = {}
        self.errors: dict[str, MailboxError] = {}
        self.checking: set[str] = set()
        self.paused_until = 0.0
        self.toasts: list[Toast] = []
        #: new-mail sound (traymail.sound); off unless an account or rule asks
        self.sound = Player()
        #: account -> new messages an "important" rule matched (the badge's colour)
        self.important: dict[str, set[str]] = {}
        #: notices shown (a wrong password, "Sign in again to ..."), once each
        self.notices: list[Toast] = []
        self.mailbox_window: MailboxWindow | None = None
        self.log_window: LogWindow | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.stopped = threading.Event()
        self.poller = Poller(self.accounts, self._result_in_worker,
                             on_start=lambda mb: self.bridge.post(lambda: self._started(mb)))
        self.tray = Tray(self.menu_entries(), self.bridge.post, self.popup_menu,
                         hover=self.hover, on_lost=self._tray_display_lost) \
            if use_tray else None
        self._tooltip: Tooltip | None = None
        self.notifier = Notifier(lambda: self.bridge.post(self.show_mailbox),
                                 icon_path=self._icon_file(), fallback=self._balloon) \
            if use_notifier else None
        self.instance = InstanceServer(instance_paths or paths, self._instance_message) \
            if single_instance else None
        self.internal_error = ""
        self.log_file = setup_logging(paths.log_dir)
        self._install_crash_handlers()

    @property
    def root(self) -> tk.Tk:
        """Tk's hidden root, made on first use (main thread only): the first
        window, the tray's popup menu or tooltip. Until then the app has no
        Tk and the bridge's own loop runs the main thread."""
        if self._root is None:
            from .ui.root import create_root

            root = self._root = create_root(hidden=True)
            root.report_callback_exception = (  # type: ignore[assignment]
                lambda exc, value, tb: self._crashed(value, "Tk"))
            self.bridge.attach(root)
            if self._watch_display:
                self._watch_x11()
            log.info("Tk started (the first window)")
        return self._root

    @property
    def tooltip(self) -> Tooltip:
        """The tray icon's tooltip (made, with Tk, at the first hover)."""
        if self._tooltip is None:
            from .ui.tooltip import Tooltip

            self._tooltip = Tooltip(self.root)
        return self._tooltip

    def _display_lost(self) -> None:
        """The X display is gone (display_watch; not the Tk thread, Tk is
        dead): say so in the log, free the single-instance address."""
        log.error("the display is gone (X connection lost); traymail exits")
        self.stopped.set()
        if self.instance is not None:
            try:
                self.instance.close()
            except Exception:
                log.exception("could not remove the instance socket")
        close_logging(self.log_file)

    def _watch_x11(self) -> bool:
        """display_watch on libX11 where the process uses it: Tk's root, or a
        GTK tray backend (GDK's own handler would exit(1) with no cleanup)."""
        return display_watch.install(self._display_lost, only_if_loaded=self._root is None)

    def _tray_display_lost(self) -> None:
        """The tray's X connection died (tray thread). With Tk running,
        display_watch ends the process; without it, a normal Quit does."""
        if self._root is not None and self._watch_display:
            return
        log.error("the display is gone (X connection lost); traymail exits")
        self.bridge.post(self.quit)

    # -- crash safety ----------------------------------------------------------
    def _install_crash_handlers(self) -> None:
        """An unexpected exception in any thread: logged with its traceback, the
        icon turns to the error state, and the app keeps running."""
        def thread_hook(args: threading.ExceptHookArgs) -> None:
            if args.exc_type is SystemExit or args.exc_value is None:
                return
            self._crashed(args.exc_value, args.thread.name if args.thread else "?")

        threading.excepthook = thread_hook

    def _crashed(self, exc: BaseException, where: str) -> None:
        log.error("unexpected error in %s", where, exc_info=(type(exc), exc, exc.__traceback__))
        text = _("internal error in {where}: {error}").format(where=where, error=exc)[:90]
        self.bridge.post(lambda: self._set_internal_error(text))

    def _set_internal_error(self, text: str) -> None:
        self.internal_error = text
        self.refresh_icon()

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        self.platform.register_app_id()
        recovered = self.accounts.store.recovered_from
        if recovered is not None:
            self._notice(_("The state database was damaged; it was kept as {path} and "
                           "traymail started fresh (old mail may be announced once more).")
                         .format(path=recovered))
        if self.instance is not None:
            self.instance.start()
        # the notifier (asyncio, desktop-notifier, D-Bus) starts at its first toast
        if self.tray is not None:
            self.tray.start(*self.icon_and_title())
        self.poller.start()
        if not self.accounts.settings.accounts:
            dialog = self.show_settings()  # first run: ask for an account (or the demo)
            if self.accounts.damaged_settings is not None:
                dialog.general_error.configure(
                    text=_("{problem}\nThe file was kept; saving here moves it aside as "
                           "settings.json.damaged-<time>.").format(
                        problem=self.accounts.damaged_settings))

    def run(self) -> int:
        import signal

        self.start()
        # only the real app's process (run()), never a test process hosting apps
        self._watch_display = True
        if not self._watch_x11():  # GTK's tray backend may load libX11 a moment later
            self.bridge.after(3000, self._watch_x11)
        # SIGTERM (logout, kill, tests): the handler runs between events; the
        # bridge's wait and its after() tick under Tk guarantee there are some
        signal.signal(signal.SIGTERM, lambda *_: self.bridge.post(self.quit))
        try:
            # no Tk until a window is needed; then Tk's loop until Quit
            self.bridge.run(until=lambda: self.stopped.is_set() or self._root is not None)
            if self._root is not None and not self.stopped.is_set():
                self._root.mainloop()
        finally:
            from . import exit_watch

            exit_watch.arm(self.paths.log_dir)  # Quit always ends the process
            self.shutdown()
        return 0

    def quit(self) -> None:
        """From the menu: end the main loop; shutdown() follows on the Tk thread."""
        log.info("quit")
        self.stopped.set()
        if self._root is not None:
            self._root.quit()

    def shutdown(self) -> None:
        log.info("shutting down")
        t = time.monotonic()
        self.stopped.set()
        self.bridge.close()
        steps = [("poller", self.poller.stop),
                 ("notifier", self.notifier.stop if self.notifier else None),
                 ("tray", self.tray.stop if self.tray else None),
                 ("instance", self.instance.close if self.instance else None)]
        for name, stop in steps:
            if stop is not None:
                stop()
                log.info("shutdown: %s stopped after %.1f s", name, time.monotonic() - t)
        if self._root is not None:
            try:
                self._root.destroy()
            except Exception:
                pass
        gc.collect()  # free Tk objects here, on the main thread
        self.accounts.close()  # the state DB and the transcript logs
        close_logging(self.log_file)
        self.log_file = None

    @property
    def threads(self) -> list[threading.Thread]:
        out = list(self.poller.threads)
        for part in (self.notifier, self.tray, self.instance):
            if part is not None:
                out += part.threads
        return out

    # -- menu ----------------------------------------------------------------------
    def menu_entries(self) -> list[MenuEntry]:
        autostart = (_("Start with Windows") if sys.platform == "win32"
                     else _("Start with the system"))
        return [
            MenuEntry(_("Open mailbox"), self.show_mailbox, default=True),
            MenuEntry(_("Check now"), self.check_now),
            MenuEntry(_("Show log"), self.show_log),
            MenuEntry(_("Settings…"), self.show_settings),
            MenuEntry(_("Rules…"), self.show_rules),
            SEPARATOR,
            MenuEntry(_("Pause notifications"), submenu=[
                MenuEntry(_("For 15 minutes"), lambda: self.pause(15 * 60)),
                MenuEntry(_("For 1 hour"), lambda: self.pause(3600)),
                MenuEntry(_("Until resumed"), lambda: self.pause(float("inf"))),
                MenuEntry(_("Resume"), self.resume, enabled=self.paused),
            ]),
            MenuEntry(_("Mark all as seen"), self.mark_all_seen),
            MenuEntry(autostart, self.toggle_autostart,
                      checked=(lambda: False) if self.demo else self.platform.autostart_enabled,
                      enabled=(lambda: not self.demo)),
            SEPARATOR,
            MenuEntry(_("Quit"), self.quit),
        ]

    def popup_menu(self, x: int, y: int, post: bool = True) -> Any:
        """The same menu as a Tk popup (for tray backends without menus);
        ``post=False`` builds it only (on Windows a posted menu is modal)."""
        import tkinter as tk

        from .ui.root import shared_font

        bold = shared_font(self.root, "TkMenuFont", weight="bold")

        def build(parent: tk.Misc, entries: list[MenuEntry]) -> tk.Menu:
            menu = tk.Menu(parent, tearoff=False)
            for e in entries:
                if e.label == "-":
                    menu.add_separator()
                elif e.submenu:
                    menu.add_cascade(label=e.label, menu=build(menu, e.submenu))
                elif e.checked is not None:
                    var = tk.BooleanVar(menu, value=e.checked())
                    menu.add_checkbutton(label=e.label, variable=var, command=e.action,
                                         state="normal" if e.enabled is None or e.enabled()
                                         else "disabled")
                    menu._vars = [*getattr(menu, "_vars", []), var]  # type: ignore[attr-defined]
                else:
                    state = "normal" if e.enabled is None or e.enabled() else "disabled"
                    menu.add_command(label=e.label, command=e.action, state=state)
                    if e.default:
                        menu.entryconfigure(menu.index("end"), font=bold)
            return menu

        if getattr(self, "_popup", None) is not None:
            self._popup.destroy()
        self._popup = build(self.root, self.menu_entries())
        if post:
            self._popup.tk_popup(x, y)
        return self._popup

    def hover(self, x: int, y: int, inside: bool) -> None:
        """The pointer over the icon (xorg backend): show the tooltip there."""
        if inside:
            self.tooltip.show(self.icon_and_title()[1], x, y)
        elif self._tooltip is not None:
            self._tooltip.hide()

    # -- actions -----------------------------------------------------------------
    def show_mailbox(self) -> MailboxWindow:
        if self.mailbox_window is not None and self.mailbox_window.alive:
            self.mailbox_window.show()
            self.mailbox_window.refresh()
        else:
            from .ui.mailbox_window import MailboxWindow

            self.mailbox_window = MailboxWindow(self.root, self.bridge, self.accounts,
                                                on_show_log=self.show_log,
                                                on_notice=self._notice,
                                                on_changed=self._mailbox_changed)
            self.mailbox_window.show()
        return self.mailbox_window

    def show_log(self) -> LogWindow:
        if self.log_window is not None and self.log_window.alive:
            self.log_window.show()
        else:
            from .ui.log_window import LogWindow

            self.log_window = LogWindow(self.root, self.bridge, self.accounts)
        return self.log_window

    def show_settings(self) -> SettingsDialog:
        if self.settings_dialog is not None and self.settings_dialog.alive:
            self.settings_dialog.top.lift()
        else:
            from .ui.settings_dialog import SettingsDialog

            first_run = not self.accounts.settings.accounts
            self.settings_dialog = SettingsDialog(
                self.root, self.bridge, self.accounts,
                on_saved=lambda s: self._settings_saved(),
                on_signed_in=lambda account: self._signed_in(account.name),
                on_demo=self.start_demo if first_run else None)
        return self.settings_dialog

    def show_rules(self) -> Any:
        """The Rules window (traymail.ui.rules_window), one at a time."""
        from .ui.rules_window import RulesWindow

        window = getattr(self, "rules_window", None)
        if window is not None and window.alive:
            window.top.lift()
        else:
            window = self.rules_window = RulesWindow(self.root, self.accounts,
                                                     on_saved=self._settings_saved)
        return window

    def start_demo(self) -> None:
        """First run, "Try the demo": the demo runs as its own app, in its own
        throwaway folder; this one (with no account yet) makes way for it."""
        import subprocess

        # traymailw / pythonw.exe like the autostart: no console window on Windows
        command = autostart_command(sys.executable, frozen=bool(getattr(sys, "frozen", False)))
        subprocess.Popen([*command, "--demo"], stdin=subprocess.DEVNULL, start_new_session=True)
        self.quit()

    def _mailbox_changed(self, name: str) -> None:
        """The window refreshed, downloaded or marked: the badge follows at
        once (from the state database, no network)."""
        if name not in self.accounts.names or name not in self.results:
            self.refresh_icon()
            return
        new = [h for h in self.accounts.mailbox(name).cached_headers() if h.new]
        self.results[name] = replace(self.results[name], new_count=len(new),
                                     new_size=sum(h.size or 0 for h in new))
        self.refresh_icon()

    def _settings_saved(self) -> None:
        if self.mailbox_window is not None and self.mailbox_window.alive:
            self.mailbox_window.accounts_changed()
        s = self.accounts.settings
        # the demo's settings live in a throwaway folder: never an autostart
        if not self.demo and s.start_with_system != self.platform.autostart_enabled():
            self.platform.set_autostart(s.start_with_system, self.autostart_command())
        self.errors.clear()
        self.poller.check_now()
        self.refresh_icon()

    def _signed_in(self, name: str) -> None:
        """A new OAuth2 sign-in: a later failure is told again; check at once."""
        self.errors.pop(name, None)
        if name in self.accounts.names:
            self.poller.check_now(name)
        self.refresh_icon()

    def check_now(self) -> None:
        self.poller.check_now()

    def pause(self, seconds: float) -> None:
        self.paused_until = time.time() + seconds
        self.refresh_icon()

    def resume(self) -> None:
        self.paused_until = 0.0
        self.refresh_icon()

    def paused(self) -> bool:
        return time.time() < self.paused_until

    def mark_all_seen(self) -> None:
        self.important.clear()
        for mb in self.accounts.mailboxes(enabled_only=False):
            mb.mark_all_seen()
            if mb.name in self.results:
                self.results[mb.name] = replace(self.results[mb.name], new_count=0, new_size=0)
        if self.mailbox_window is not None and self.mailbox_window.alive:
            self.mailbox_window.load_cached()  # the bold "new" rows go at once
        self.refresh_icon()

    def toggle_autostart(self) -> None:
        if self.demo:
            self._notice(_("The demo does not start with the system; run traymail "
                           "itself to set that up."))
            return
        enabled = not self.platform.autostart_enabled()
        self.platform.set_autostart(enabled, self.autostart_command())
        settings = replace(self.accounts.settings, start_with_system=enabled)
        try:
            self.accounts.apply(settings)
        except Exception:
            log.exception("could not save start_with_system")
        self.refresh_icon()

    def autostart_command(self) -> list[str]:
        """traymailw / pythonw.exe (no console window), never python.exe."""
        command = autostart_command(sys.executable, frozen=bool(getattr(sys, "frozen", False)))
        if self.paths.portable:
            command += ["--home", str(self.paths.settings_file.parent)]
        return command

    def _instance_message(self, message: str) -> None:  # listener thread
        if message == "show":
            self.bridge.post(self.show_mailbox)
        elif message == "settings":
            self.bridge.post(self.show_settings)
        elif message == "quit":
            self.bridge.post(self.quit)

    def _notice(self, text: str, title: str = "traymail") -> None:
        self.notices.append(Toast(title, text))
        if self.notifier is not None and self.accounts.settings.notifications:
            self.notifier.show(title, text)
        log.info("%s: %s", title, text)

    def _balloon(self, title: str, message: str) -> bool:
        return self.tray.notify(title, message) if self.tray is not None else False
