"""The tray icon (pystray) in its own thread.

The menu is described once as data (:class:`MenuEntry`) and built both as a
pystray menu and, where pystray has none (the plain xorg backend a pip venv
gets on Linux), as a Tk popup shown on right-click. Every callback only
posts work to the Tk thread; only the Tk thread stops the icon.

pystray is imported lazily: importing it needs a display on Linux.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .i18n import _

__all__ = ["MenuEntry", "Tray", "SEPARATOR", "load_pystray"]

log = logging.getLogger("traymail.tray")
Post = Callable[[Callable[[], Any]], None]


@dataclass
class MenuEntry:
    label: str
    action: Callable[[], Any] | None = None
    default: bool = False
    checked: Callable[[], bool] | None = None
    enabled: Callable[[], bool] | None = None
    submenu: list[MenuEntry] = field(default_factory=list)


SEPARATOR = MenuEntry("-")
#: Shell_NotifyIcon's message when the user clicks the balloon (WM_USER + 5)
NIN_BALLOONUSERCLICK = 0x0405


#: pystray's own order on Linux; it only moves on after an ImportError, but a
#: missing typelib (gir1.2-ayatanaappindicator3) raises ValueError from gi
LINUX_BACKENDS = ("appindicator", "gtk", "xorg")


def load_pystray() -> Any:
    """Import pystray with a backend that works here; log which one runs.

    On Linux, a backend that fails to load (e.g. ``ValueError: Namespace
    AyatanaAppIndicator3 not available`` with the gtk extra but no
    AppIndicator typelib) falls back along appindicator -> gtk -> xorg, also
    when PYSTRAY_BACKEND named the failing one."""
    if "pystray" in sys.modules:
        return sys.modules["pystray"]
    wanted = os.environ.get("PYSTRAY_BACKEND", "")
    if sys.platform != "linux" or (wanted and wanted not in LINUX_BACKENDS):
        import pystray

        return pystray
    order = LINUX_BACKENDS[LINUX_BACKENDS.index(wanted):] if wanted else LINUX_BACKENDS
    failures: list[str] = []
    for i, name in enumerate(order):
        os.environ["PYSTRAY_BACKEND"] = name
        try:
            if name == "xorg":
                _xlib_core_only()
            import pystray
        except Exception as exc:
            for mod in [m for m in sys.modules if m == "pystray" or m.startswith("pystray.")]:
                del sys.modules[mod]
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            if i == len(order) - 1:
                if wanted:
                    os.environ["PYSTRAY_BACKEND"] = wanted
                else:
                    os.environ.pop("PYSTRAY_BACKEND", None)
                raise ImportError(_("no tray backend works: {failures}").format(
                    failures="; ".join(failures))) from exc
            continue
        if failures:
            log.warning("tray backend %s could not load (%s); falling back", order[0],
                        "; ".join(failures))
        return pystray
    raise AssertionError("unreachable")  # pragma: no cover


def _xlib_core_only() -> None:
    """python-xlib's connections without its extension modules.

    Every ``Xlib.display.Display`` imports and sets up a module for each X
    extension the server offers (``Xlib.ext.__extensions__``: RANDR,
    XInput, RECORD, ... -- 0.8 MiB an idle app keeps), and pystray's xorg
    backend opens three of them (its module's, the icon's, ours in
    ``ClickableXorgIcon``); none of them uses an extension: only core
    requests (XEmbed docking, drawing, events). Python-xlib is used here
    only for the tray."""
    import Xlib.ext

    Xlib.ext.__extensions__[:] = []


def backend_name(module: str) -> str:
    """``pystray._gtk`` -> ``gtk``."""
    return module.rsplit("._", 1)[-1]


class Tray:
    def __init__(self, entries: list[MenuEntry], post: Post,
                 popup: Callable[[int, int], Any],
                 hover: Callable[[int, int, bool], Any] | None = None,
                 on_lost: Callable[[], Any] | None = None) -> None:
        self.entries = entries
        #: the X display went away under the icon (xorg backend; tray thread)
        self.on_lost = on_lost
        self.display_lost = False
        self.post = post
        self.popup = popup
        #: (x, y, inside): the pointer entered/left the icon (backends without tooltips)
        self.hover = hover
        self.icon: Any = None
        self.backend = ""
        self.has_menu = False
        self.ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        #: pictures actually handed to the backend (only when the pixels change)
        self.picture_updates = 0
        #: SYSTEM_TRAY_REQUEST_DOCK messages sent (xorg backend): one per tray host
        self.dock_requests = 0
        self._picture: tuple[Any, ...] | None = None
        self._shown_title: str | None = None

    # -- building --------------------------------------------------------------
    def _menu(self, entries: list[MenuEntry]) -> Any:
        pystray = load_pystray()

        items = []
        for e in entries:
            if e.label == "-":
                items.append(pystray.Menu.SEPARATOR)
            elif e.submenu:
                items.append(pystray.MenuItem(e.label, self._menu(e.submenu)))
            else:
                items.append(pystray.MenuItem(
                    e.label, self._callback(e), default=e.default,
                    checked=(lambda item, e=e: e.checked()) if e.checked else None,  # type: ignore[misc]
                    enabled=(lambda item, e=e: e.enabled()) if e.enabled else True))  # type: ignore[misc]
        return pystray.Menu(*items)

    def _callback(self, entry: MenuEntry) -> Callable[..., None]:
        def run(icon: Any = None, item: Any = None) -> None:  # pystray's thread
            if entry.action is not None:
                self.post(entry.action)
        return run

    def _icon_class(self) -> Any:
        pystray = load_pystray()

        cls = pystray.Icon
        if cls.__module__ == "pystray._win32":  # pragma: no cover - Windows only
            class BalloonClickIcon(cls):  # type: ignore[misc,valid-type]
                """pystray's win32 backend ignores a click on its balloon (the
                toast fallback); treat it like a click on the icon."""

                def _on_notify(self, wparam: Any, lparam: Any) -> Any:
                    if lparam == NIN_BALLOONUSERCLICK:
                        self()
                        return None
                    return super()._on_notify(wparam, lparam)

            return BalloonClickIcon
        if cls.__module__ != "pystray._xorg":
            return cls
        import Xlib.X

        popup = self.popup
        post = self.post
        hover = self.hover
        tray = self

        class ClickableXorgIcon(cls):  # type: ignore[misc,valid-type]
            """Four fixes for pystray 0.19.5's xorg backend.

            1. It handles ButtonPress but never selects ButtonPressMask, so X
               never delivers clicks (upstream #151). Select it; left click =
               the default item, right click = our Tk popup menu.
            2. Calls from other threads (icon, title, stop) write to the icon's
               X connection while its own thread reads from it; python-xlib
               can deadlock there (seen: the Tk thread waiting forever in
               ``title =``). Send those requests over a private connection
               instead, and never wait for the icon thread without a timeout.
            3. Every new picture re-sent SYSTEM_TRAY_REQUEST_DOCK: the tray
               host (trayer) re-embedded the docked window and now and then
               left a 1-pixel sliver (issue 13). Dock once per tray host
               (again only when the host goes away); a new picture is only
               redrawn in place.
            4. The picture was pasted onto black, dropping its alpha: a
               black box behind the envelope. It is composited onto what the
               tray shows behind the icon (the window's background is its
               parent's).
            5. Its tooltip is only WM_NAME, which XEmbed trays never show:
               entering/leaving the icon is told to ``hover`` (a Tk tooltip).
            """

            def _create_window(self) -> Any:
                window = super()._create_window()
                self._message_handlers[Xlib.X.EnterNotify] = self._traymail_enter
                self._message_handlers[Xlib.X.LeaveNotify] = self._traymail_leave
                window.change_attributes(event_mask=Xlib.X.ExposureMask
                                         | Xlib.X.StructureNotifyMask
                                         | Xlib.X.ButtonPressMask
                                         | Xlib.X.EnterWindowMask
                                         | Xlib.X.LeaveWindowMask)
                return window

            def _dock_window(self) -> None:
                tray.dock_requests += 1
                super()._dock_window()

            def _traymail_dock(self) -> None:
                """Send the dock request only when not embedded: never to a
                tray that already shows us (a request dropped by a busy host
                is re-sent after 2 s, at the next picture)."""
                if self._systray_manager:
                    try:
                        parent = self._window.query_tree().parent
                        if parent.id != self._display.screen().root.id:
                            return  # embedded
                    except Exception:
                        log.debug("query_tree failed", exc_info=True)
                    if time.monotonic() - getattr(self, "_traymail_docked_at", 0.0) < 2.0:
                        return
                self._assert_docked()
                self._traymail_docked_at = time.monotonic()

            def _show(self) -> None:
                try:
                    self._traymail_dock()
                except AssertionError:
                    log.warning("no tray host to dock in (yet)")

            def _update_icon(self) -> None:
                """Redraw in place; dock only when not embedded."""
                try:
                    self._traymail_dock()
                except AssertionError:
                    log.warning("no tray host to dock in (yet)")
                    return
                self._icon_data = None
                self._draw()
                self._icon_valid = True

            def _assert_icon_data(self, width: int, height: int) -> None:
                if self._icon_data and self._icon_data.size == (width, height):
                    return
                from PIL import Image

                picture = self._icon.convert("RGBA").resize((width, height),
                                                            Image.Resampling.LANCZOS)
                self._icon_data = Image.alpha_composite(
                    self._traymail_background(width, height), picture).convert("RGB")
                self._icon_data.tostring = self._icon_data.tobytes

            def _traymail_background(self, width: int, height: int) -> Any:
                """What the tray paints behind the icon: the window's background
                is set to its parent's (ParentRelative) only while it is read
                back -- a lasting ParentRelative would make a tray of another
                depth fail to reparent (BadMatch) and so to dock us."""
                from PIL import Image

                try:
                    parent = self._window.query_tree().parent
                    if parent.id == self._display.screen().root.id:
                        raise ValueError("not embedded yet")
                    if parent.get_geometry().depth != self._window.get_geometry().depth:
                        raise ValueError("the tray has another depth")
                    self._window.change_attributes(background_pixmap=Xlib.X.ParentRelative)
                    try:
                        self._window.clear_area(0, 0, width, height)
                        raw = self._window.get_image(0, 0, width, height, Xlib.X.ZPixmap,
                                                     0xFFFFFFFF)
                    finally:
                        self._window.change_attributes(background_pixmap=Xlib.X.NONE)
                    bg = Image.frombytes("RGB", (width, height), raw.data, "raw", "BGRX")
                    return bg.convert("RGBA")
                except Exception:  # not embedded yet, another depth, an unusual visual
                    log.debug("no tray background to composite on", exc_info=True)
                    return Image.new("RGBA", (width, height), (214, 214, 214, 255))

            def _traymail_enter(self, event: Any) -> None:
                if hover is not None:
                    x, y = event.root_x, event.root_y
                    post(lambda: hover(x, y, True))

            def _traymail_leave(self, event: Any) -> None:
                if hover is not None:
                    x, y = event.root_x, event.root_y
                    post(lambda: hover(x, y, False))

            def _on_button_press(self, event: Any) -> None:
                if hover is not None:
                    post(lambda: hover(0, 0, False))
                if event.detail == 3:
                    x, y = event.root_x, event.root_y
                    post(lambda: popup(x, y))
                else:
                    super()._on_button_press(event)

            def _rewrite_implementation(self, *originals: Any) -> None:
                super()._rewrite_implementation(*originals)
                self._traymail_lock = threading.Lock()
                self._traymail_display: Any = None
                for original in originals:
                    atom = self._display.intern_atom(f"_PYSTRAY_{original.__name__.upper()}")
                    setattr(self, original.__name__, self._dispatch(original, atom))
                # a tray host that starts later announces itself with a MANAGER
                # message on the root window (System Tray Protocol, "Locating
                # the system tray"): dock then
                manager = self._display.intern_atom("MANAGER")
                pystray_messages = self._message_handlers[Xlib.X.ClientMessage]

                def on_client_message(event: Any) -> None:
                    if event.client_type == manager \
                            and event.data[1][1] == self._net_system_tray_sx:
                        log.info("a tray host appeared; docking")
                        self._systray_manager = None
                        try:
                            self._traymail_dock()
                        except AssertionError:
                            log.warning("no tray host to dock in (yet)")
                        return
                    pystray_messages(event)

                self._message_handlers[Xlib.X.ClientMessage] = on_client_message
                self._display.screen().root.change_attributes(
                    event_mask=Xlib.X.StructureNotifyMask)

            def _dispatch(self, original: Any, atom: int) -> Callable[[], None]:
                def inner() -> None:
                    thread = getattr(self, "_thread", None)
                    if thread is None or threading.current_thread().ident == thread.ident:
                        original()
                        return
                    import queue

                    import Xlib.display
                    import Xlib.protocol.event

                    with self._traymail_lock:
                        if self._traymail_display is None:
                            self._traymail_display = Xlib.display.Display()
                        d = self._traymail_display
                        window = d.create_resource_object("window", self._window.id)
                        window.send_event(Xlib.protocol.event.ClientMessage(
                            window=window, client_type=atom,
                            data=(32, (Xlib.X.CurrentTime, 0, 0, 0, 0))),
                            event_mask=Xlib.X.NoEventMask)
                        d.flush()
                    try:
                        result = self._queue.get(timeout=5)
                    except queue.Empty:
                        log.warning("the tray icon did not answer (%s)", original.__name__)
                        return
                    if result is not True:
                        raise result[1]
                return inner

            def _events(self) -> Any:
                """pystray's event stream, ended quietly when the X server
                goes away (told to ``on_lost``, not logged as a crash)."""
                import Xlib.error

                try:
                    yield from super()._events()
                except Xlib.error.ConnectionClosedError:
                    if not tray._stopping.is_set():
                        tray.display_lost = True

            def traymail_close(self) -> None:
                if getattr(self, "_traymail_display", None) is not None:
                    self._traymail_display.close()

        return ClickableXorgIcon

    # -- running -----------------------------------------------------------------
    def start(self, image: Any, title: str) -> None:
        pystray = load_pystray()
        cls = self._icon_class()
        self.backend = pystray.Icon.__module__
        log.info("tray backend: %s", backend_name(self.backend))
        self.icon = cls("traymail", image, self._title(title), menu=self._menu(self.entries))
        self._picture = (image.mode, image.size, image.tobytes())
        self._shown_title = self._title(title)
        self.has_menu = bool(self.icon.HAS_MENU)

        def setup(icon: Any) -> None:
            # xorg: run() releases setup before it sets icon._thread
            while self.backend == "pystray._xorg" and not hasattr(icon, "_thread"):
                threading.Event().wait(0.01)
            icon.visible = True
            self.ready.set()
            if self.backend == "pystray._xorg":
                # a busy tray host (trayer on a fresh display) may drop the
                # first dock request: ask again while not embedded (_show
                # sends nothing once the icon is in the tray)
                for _ in range(3):
                    if self._stopping.wait(2.5):
                        return
                    try:
                        icon._show()
                    except Exception:
                        log.debug("dock retry failed", exc_info=True)

        def run() -> None:
            try:
                self.icon.run(setup=setup)
            except Exception:
                log.exception("the tray icon stopped")
            if self.display_lost and self.on_lost is not None:
                self.on_lost()

        self._thread = threading.Thread(target=run, name="traymail-tray", daemon=True)
        self._thread.start()

    def _title(self, title: str) -> str:
        """Windows truncates tooltips at 127 chars; pystray's xorg backend sets
        WM_NAME as Latin-1 and raises on anything else."""
        title = title[:127]
        if self.backend == "pystray._xorg":
            title = title.replace("—", "-").replace("…", "...")
            title = title.encode("latin-1", "replace").decode("latin-1")
        return title

    def update(self, image: Any, title: str) -> None:
        """Hand the backend a picture only when its pixels changed, and a
        tooltip only when its text did: every poll calls this."""
        if self.icon is None:
            return
        picture = (image.mode, image.size, image.tobytes())
        if picture != self._picture:
            self._picture = picture
            self.picture_updates += 1
            self.icon.icon = image
        title = self._title(title)
        if title != self._shown_title:
            self._shown_title = title
            self.icon.title = title
        if self.has_menu:
            try:
                self.icon.update_menu()
            except Exception:
                log.debug("menu update failed", exc_info=True)

    def notify(self, title: str, message: str) -> bool:
        """The backend's own balloon (Windows), as a toast fallback."""
        if self.icon is None or not getattr(self.icon, "HAS_NOTIFICATION", False):
            return False
        try:
            self.icon.notify(message, title)
            return True
        except Exception:
            log.debug("balloon failed", exc_info=True)
            return False

    def stop(self, timeout: float = 3.0) -> None:
        self._stopping.set()
        if self.icon is None:
            return
        try:
            self.icon.stop()
        except Exception:  # gtk backends raise without a notification daemon
            log.debug("icon.stop failed", exc_info=True)
        if self._thread is not None:
            self._thread.join(timeout)
        closer = getattr(self.icon, "traymail_close", None)
        if closer is not None:
            try:
                closer()
            except Exception:  # the X server is gone already
                log.debug("closing the tray's second connection failed", exc_info=True)
            if self._thread.is_alive():  # pystray xorg: stop() can hang in next_event()
                log.warning("the tray thread did not stop; leaving it to process exit")

    @property
    def threads(self) -> list[threading.Thread]:
        return [self._thread] if self._thread is not None else []
