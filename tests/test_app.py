"""The whole tray app under Xvfb + a tray host (trayer) + a private D-Bus
session + a notification daemon (dunst), all started by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from traymail.accounts import Accounts
from traymail.app import App
from traymail.decode import format_size
from traymail.devserver import DevServer, MemoryMailbox
from traymail.icons import IconState
from traymail.instance import send_to_running
from traymail.passwords import MemoryStore
from traymail.platform_support import LinuxSupport
from traymail.samples import sample_message, sample_messages
from traymail.settings import Account, Security, Settings, resolve_paths

from .desktop import (
    Desktop,
    dunst_displayed,
    dunst_history,
    start_notification_daemon,
    tray_icons,
    wait_for,
    xdotool,
)
from .desktop import tray_desktop as start_tray_desktop
from .uitools import pump

MakeServer = Callable[..., DevServer]


@pytest.fixture(scope="module")
def tray_desktop(x_display: str) -> Iterator[Desktop]:
    # the plain-venv path: pystray's xorg backend (tests/test_tray_gtk.py runs
    # the gtk backend in its own process); pystray reads this at import
    os.environ["PYSTRAY_BACKEND"] = "xorg"
    desktop = start_tray_desktop(x_display, notifications=True)
    yield desktop
    desktop.stop()


@pytest.fixture
def session_env(tray_desktop: Desktop, monkeypatch: pytest.MonkeyPatch) -> Desktop:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", tray_desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    subprocess.run(["dunstctl", "close-all"], env=tray_desktop.env, timeout=10)
    return tray_desktop


_APPS: list[App] = []  # their Tk roots are never freed by the collector in a worker


def make_app(home: Path, srv: DevServer, **kw: object) -> App:
    account = Account("Home", "127.0.0.1", "user", security=Security.NONE, port=srv.port,
                      allow_insecure=True)
    store = MemoryStore()
    store.set(account, "pass")
    paths = resolve_paths(home=home)
    accounts = Accounts(paths, Settings((account,)), passwords=store)
    app = App(paths, accounts=accounts, platform=LinuxSupport(home / "xdg-config"),
              **kw)  # type: ignore[arg-type]
    _APPS.append(app)
    return app


def icon_center(display: str, app: App, timeout: float = 10) -> tuple[int, int]:
    """The docked icon's centre once its geometry is stable. trayer drops the
    first dock request on a fresh display now and then: re-send it once."""
    last: tuple[int, int, int, int] | None = None
    start = stable_since = time.monotonic()
    end = time.monotonic() + timeout
    redocked = False
    while time.monotonic() < end:
        if last is None and not redocked and time.monotonic() - start > 2:
            app.refresh_icon()  # re-setting the image re-sends SYSTEM_TRAY_REQUEST_DOCK
            redocked = True
        icons = tray_icons(display)
        cur = icons[0] if icons else None
        key = (cur["x"], cur["y"], cur["width"], cur["height"]) if cur else None
        if key != last:
            last, stable_since = key, time.monotonic()
        elif cur and time.monotonic() - stable_since > 0.4:
            return cur["x"] + cur["width"] // 2, cur["y"] + cur["height"] // 2
        time.sleep(0.05)
    raise TimeoutError(f"no stable tray icon: {last}")


def app_pump(app: App, until: Callable[[], object], timeout: float = 10) -> bool:
    return pump(app.root, until, timeout)


def test_tray_toasts_clicks_menu_and_quit(session_env: Desktop, x_display: str,
                                          make_devserver: MakeServer, tmp_path: Path) -> None:
    box = MemoryMailbox(sample_messages(3))
    srv = make_devserver(box)
    app = make_app(tmp_path / "home", srv)
    before = set(threading.enumerate())
    seen = len(dunst_history(session_env))
    app.start()
    try:
        # the icon appears in the tray
        assert app.tray is not None and app.tray.ready.wait(10)
        x, y = icon_center(x_display, app)
        # first run: one summary toast, never one per message
        assert app_pump(app, lambda: len(app.toasts) == 1)
        assert app.toasts[0].title.startswith("3 messages waiting")
        wait_for(lambda: dunst_displayed(session_env) == 1, 10, "the first toast")
        # new mail: exactly one toast with the right count and size
        a = box.add(sample_message(50))
        b = box.add(sample_message(51))
        size = sum(len(m.data) for m in box.snapshot() if m.uid in (a, b))
        app.check_now()
        assert app_pump(app, lambda: len(app.toasts) == 2)
        title = f"2 new messages ({format_size(size)})"
        assert app.toasts[1].title == title
        assert "Jürgen Groß" in app.toasts[1].message or "Анна" in app.toasts[1].message
        wait_for(lambda: dunst_displayed(session_env) == 2, 10, "the second toast")
        assert [h[2] for h in app.notifier.history] == ["native", "native"]  # type: ignore[union-attr]
        app.check_now()  # nothing new: no further toast
        app_pump(app, lambda: False, timeout=1.5)
        assert len(app.toasts) == 2
        assert "5 new" in app.icon_and_title()[1]
        # a click on the toast opens the mailbox window
        popups = wait_for_popup(x_display)
        xdotool(x_display, "mousemove", str(popups[0]), str(popups[1]), "click", "1")
        assert app_pump(app, lambda: app.mailbox_window is not None and app.mailbox_window.alive)
        app.mailbox_window.close()  # type: ignore[union-attr]
        # a real left click on the icon opens it again
        xdotool(x_display, "mousemove", str(x), str(y), "click", "1")
        assert app_pump(app, lambda: app.mailbox_window is not None and app.mailbox_window.alive)
        # a real right click shows the menu (a Tk popup on the xorg backend)
        xdotool(x_display, "mousemove", str(x), str(y), "click", "3")
        assert app_pump(app, lambda: getattr(app, "_popup", None) is not None
                        and app._popup.winfo_ismapped())
        labels = [app._popup.entrycget(i, "label") for i in range(app._popup.index("end") + 1)
                  if app._popup.type(i) != "separator"]
        assert labels[:4] == ["Open mailbox", "Check now", "Show log", "Settings…"]
        assert labels[-1] == "Quit"
        app._popup.unpost()
        subprocess.run(["dunstctl", "close-all"], env=session_env.env, timeout=10)
        summaries = [n["summary"] for n in dunst_history(session_env)[: len(dunst_history(
            session_env)) - seen]]
        assert summaries.count(title) == 1
        assert sum(1 for t in summaries if t.startswith("3 messages waiting")) == 1
        check_menu_items(app, srv, box)
    finally:
        if not app.stopped.is_set():
            app.quit()
        t0 = time.monotonic()
        app.shutdown()
        left = [t for t in app.threads if t.is_alive()]
        assert not left, left
        assert time.monotonic() - t0 < 8
        extra = [t for t in set(threading.enumerate()) - before
                 if t.is_alive() and t.name.startswith("traymail") and t.name != "traymail-tray"]
        assert not extra, extra


def wait_for_popup(display: str) -> tuple[int, int]:
    def find() -> tuple[int, int] | None:
        ids = xdotool(display, "search", "--onlyvisible", "--class", "Dunst").split()
        if not ids:
            return None
        geo = dict(line.split("=") for line in xdotool(
            display, "getwindowgeometry", "--shell", ids[0]).split())
        return int(geo["X"]) + int(geo["WIDTH"]) // 2, int(geo["Y"]) + int(geo["HEIGHT"]) // 2
    found: list[tuple[int, int]] = []
    wait_for(lambda: found.append(find()) or found[-1], 10, "a dunst popup")  # type: ignore[func-returns-value]
    return found[-1]


def run_entry(app: App, label: str, sub: str | None = None) -> None:
    """Invoke a menu entry the way the tray does: its callback posts to Tk."""
    assert app.tray is not None
    entries = {e.label: e for e in app.tray.entries}
    entry = entries[label]
    if sub is not None:
        entry = {e.label: e for e in entry.submenu}[sub]
    app.tray._callback(entry)()


def check_menu_items(app: App, srv: DevServer, box: MemoryMailbox) -> None:
    conns = srv.connections
    run_entry(app, "Check now")
    assert app_pump(app, lambda: srv.connections > conns and not app.checking)
    run_entry(app, "Show log")
    assert app_pump(app, lambda: app.log_window is not None and app.log_window.alive)
    assert "C: USER user" in app.log_window.contents()  # type: ignore[union-attr]
    run_entry(app, "Settings…")
    assert app_pump(app, lambda: app.settings_dialog is not None and app.settings_dialog.alive)
    app.settings_dialog.close()  # type: ignore[union-attr]
    run_entry(app, "Pause notifications", "For 15 minutes")
    assert app_pump(app, lambda: app.paused())
    assert app.icon_and_title()[0] is not None and "paused" in app.icon_and_title()[1]
    toasts = len(app.toasts)
    box.add(sample_message(60))
    run_entry(app, "Check now")
    app_pump(app, lambda: False, timeout=1.5)
    assert len(app.toasts) == toasts  # paused: no toast
    run_entry(app, "Pause notifications", "Resume")
    assert app_pump(app, lambda: not app.paused())
    run_entry(app, "Mark all as seen")
    assert app_pump(app, lambda: "— 0 new" in app.icon_and_title()[1])
    desktop_file = app.platform.desktop_file  # type: ignore[attr-defined]
    run_entry(app, "Start with the system")
    assert app_pump(app, lambda: desktop_file.exists())
    assert "Exec=" in desktop_file.read_text() and app.platform.autostart_enabled()
    assert app.accounts.settings.start_with_system
    run_entry(app, "Start with the system")
    assert app_pump(app, lambda: not desktop_file.exists())
    run_entry(app, "Open mailbox")
    assert app_pump(app, lambda: app.mailbox_window is not None and app.mailbox_window.alive)
    run_entry(app, "Quit")
    assert app_pump(app, lambda: app.stopped.is_set())


def test_icon_states(session_env: Desktop, make_devserver: MakeServer, tmp_path: Path) -> None:
    from traymail.devserver import Faults
    from traymail.icons import draw_icon, tray_icon

    srv = make_devserver(faults=Faults(errors={"PASS": "-ERR [AUTH] bad password"}))
    app = make_app(tmp_path / "home", srv, use_tray=False, single_instance=False)
    app.start()
    try:
        assert app_pump(app, lambda: "Home" in app.errors)
        image, title = app.icon_and_title()
        assert image.tobytes() == tray_icon(IconState.ERROR).tobytes()
        assert "Home: login to 127.0.0.1 failed" in title and len(title) <= 127
        # said once, as a notice toast; not at every poll
        assert app.notifier is not None
        wait_for(lambda: any("login" in h[1] for h in app.notifier.history), 5, "a notice")
        n = len(app.notifier.history)
        app.check_now()
        app_pump(app, lambda: False, timeout=1.0)
        assert len(app.notifier.history) == n
        app.pause(60)  # the error still wins over "paused"
        assert app.icon_and_title()[0].tobytes() == tray_icon(IconState.ERROR).tobytes()
        app.errors.clear()
        assert app.icon_and_title()[0].tobytes() == tray_icon(IconState.PAUSED).tobytes()
    finally:
        app.shutdown()
    # the badge: a number while it fits, a dot beyond 99; states look different
    pictures = {draw_icon(32, IconState.NEW, n).tobytes() for n in (1, 7, 42, 120, 999)}
    assert len(pictures) == 4  # 120 and 999 both show the dot
    assert len({draw_icon(32, st, 1).tobytes() for st in IconState}) == len(IconState)


def test_second_launch_hands_off(session_env: Desktop, make_devserver: MakeServer,
                                 tmp_path: Path) -> None:
    srv = make_devserver()
    home = tmp_path / "home"
    app = make_app(home, srv, use_tray=False, use_notifier=False)
    app.start()
    try:
        assert send_to_running(app.paths, "ping")
        proc = subprocess.Popen([sys.executable, "-m", "traymail", "--home", str(home)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ})
        assert app_pump(app, lambda: proc.poll() is not None, timeout=20)
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        assert "already running" in out
        assert app_pump(app, lambda: app.mailbox_window is not None and app.mailbox_window.alive)
    finally:
        app.shutdown()
    assert not send_to_running(app.paths, "ping")  # gone with the app


def test_no_notification_service_falls_back_quietly(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from traymail.notify import Notifier

    desktop = Desktop()
    desktop.start_bus()  # a session bus with no notification daemon on it
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    balloons: list[str] = []
    n = Notifier(lambda: None, fallback=lambda t, m: balloons.append(t) is None)
    try:
        n.start()
        n.show("1 new message (1 KB)", "x").result(10)
        n.show("2 new messages (2 KB)", "y").result(10)
    finally:
        n.stop()
        desktop.stop()
    assert [h[2] for h in n.history] == ["fallback", "fallback"]
    assert balloons == ["1 new message (1 KB)", "2 new messages (2 KB)"]
    assert caplog.text.count("no notification service") == 1  # logged once


def test_demo_runs_the_whole_app(session_env: Desktop, x_display: str) -> None:
    """`traymail --demo`: the real process, its own POP3 server and mailbox."""
    icons = len(tray_icons(x_display))
    shown = dunst_displayed(session_env)
    env = {**session_env.env, "DISPLAY": x_display, "PYSTRAY_BACKEND": "xorg",
           "TRAYMAIL_DEMO_EVERY": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "traymail", "--demo"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(tray_icons(x_display)) > icons, 20, "the demo's icon")
        wait_for(lambda: dunst_displayed(session_env) >= shown + 1, 20, "the first-run toast")
        # the mailbox lives: a message arrives, a second toast follows
        wait_for(lambda: dunst_displayed(session_env) >= shown + 2, 20, "a new-mail toast")
        proc.send_signal(15)  # SIGTERM: a clean quit
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    out, err = proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    assert "demo: POP3 server on 127.0.0.1" in out
    subprocess.run(["dunstctl", "close-all"], env=session_env.env, timeout=10)
    summaries = [n["summary"] for n in dunst_history(session_env)]
    assert any(s.startswith("12 messages waiting") for s in summaries)
    assert any(s.startswith("1 new message") for s in summaries)


def test_quit_from_a_second_command(session_env: Desktop, make_devserver: MakeServer,
                                    tmp_path: Path) -> None:
    srv = make_devserver()
    home = tmp_path / "home"
    app = make_app(home, srv, use_tray=False, use_notifier=False)
    app.start()
    try:
        done = subprocess.run([sys.executable, "-m", "traymail", "--home", str(home), "--quit"],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert app_pump(app, lambda: app.stopped.is_set())
    finally:
        app.shutdown()


def test_toasts_come_back_when_the_service_starts_later(
        x_display: str, make_devserver: MakeServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The login race: no notification daemon when traymail starts; dunst
    appears later; the next arrival is a real toast, without a restart."""
    desktop = Desktop()
    desktop.start_bus()  # a session bus with no notification daemon yet
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    box = MemoryMailbox(sample_messages(2))
    srv = make_devserver(box)
    app = make_app(tmp_path / "home", srv, use_tray=False, single_instance=False)
    try:
        app.start()
        assert app.notifier is not None
        assert app_pump(app, lambda: app.notifier is not None and app.notifier.history,
                        timeout=20)
        assert app.notifier.history[-1][2] == "none"  # the first-run toast: nowhere to go
        assert "no notification service" in caplog.text
        start_notification_daemon(desktop, x_display)
        box.add(sample_message(7))
        app.check_now()
        assert app_pump(app, lambda: len(app.notifier.history) >= 2, timeout=20)  # type: ignore[union-attr]
        assert app.notifier.history[-1][2] == "native"
        wait_for(lambda: dunst_displayed(desktop) >= 1, 10, "the toast in dunst")
        subprocess.run(["dunstctl", "close-all"], env=desktop.env, timeout=10)
        assert any(n["summary"].startswith("1 new message") for n in dunst_history(desktop))
        assert "notification service is back" in caplog.text
    finally:
        app.shutdown()
        desktop.stop()
