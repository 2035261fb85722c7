"""The docked tray icon stays a full icon across many polls with arrivals
(issue 13: it collapsed to a 1-pixel sliver at a poll, because pystray's xorg
backend re-sent SYSTEM_TRAY_REQUEST_DOCK on every picture change)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from traymail.accounts import Accounts
from traymail.app import App
from traymail.devserver import DevServer, MemoryMailbox
from traymail.passwords import MemoryStore
from traymail.platform_support import LinuxSupport
from traymail.samples import sample_message, sample_messages
from traymail.settings import Account, Security, Settings, resolve_paths

from .desktop import Desktop
from .test_app import _APPS, app_pump, icon_center, session_env, tray_desktop  # noqa: F401

MakeServer = Callable[..., DevServer]


def docked_sizes(display: str) -> list[tuple[int, int]]:
    """(width, height) of every window inside the tray that carries
    _XEMBED_INFO -- slivers (1x1) included, unlike tests.desktop.tray_icons."""
    import Xlib.display
    import Xlib.X

    d = Xlib.display.Display(display)
    out: list[tuple[int, int]] = []
    try:
        xembed = d.intern_atom("_XEMBED_INFO")

        def walk(win: object, depth: int) -> None:
            for child in win.query_tree().children:  # type: ignore[attr-defined]
                try:
                    if depth > 0 and child.get_full_property(xembed, 0) \
                            and child.get_attributes().map_state == Xlib.X.IsViewable:
                        geo = child.get_geometry()
                        out.append((geo.width, geo.height))
                    walk(child, depth + 1)
                except Exception:  # vanished meanwhile
                    pass

        walk(d.screen().root, 0)
        return out
    finally:
        d.close()


def test_icon_keeps_its_size_over_many_polls(session_env: Desktop, x_display: str,  # noqa: F811
                                             make_devserver: MakeServer,
                                             tmp_path: Path) -> None:
    box = MemoryMailbox(sample_messages(2))
    srv = make_devserver(box)
    # a poll every 0.6 s (the settings file cannot go below 1 minute; tests can)
    account = Account("Home", "127.0.0.1", "user", security=Security.NONE, port=srv.port,
                      allow_insecure=True, check_interval_minutes=0.01)
    store = MemoryStore()
    store.set(account, "pass")
    paths = resolve_paths(home=tmp_path / "home")
    app = App(paths, accounts=Accounts(paths, Settings((account,)), passwords=store),
              platform=LinuxSupport(tmp_path / "xdg"), use_notifier=False,
              single_instance=False)
    _APPS.append(app)
    polls: list[float] = []
    original = app._on_result

    def counted(*args: object, **kw: object) -> None:
        polls.append(time.monotonic())
        original(*args, **kw)  # type: ignore[arg-type]

    app._on_result = counted  # type: ignore[method-assign]
    stop = threading.Event()

    def arrivals() -> None:  # the living mailbox: new mail between polls
        i = 100
        while not stop.wait(0.9):
            box.add(sample_message(i))
            i += 1

    feeder = threading.Thread(target=arrivals, daemon=True)
    app.start()
    try:
        assert app.tray is not None and app.tray.ready.wait(10)
        x, y = icon_center(x_display, app)
        # alpha: the transparent corners show the tray, not a black box
        from PIL import ImageGrab

        w, h = docked_sizes(x_display)[0]
        shot = ImageGrab.grab(bbox=(x - w // 2, y - h // 2, x + w // 2, y + h // 2),
                              xdisplay=x_display).convert("RGB")
        shot.save(tmp_path / "icon.png")
        corner = shot.getpixel((0, 0))  # it was pasted on black
        tray = ImageGrab.grab(bbox=(x, y - h // 2 - 1, x + 1, y - h // 2),
                              xdisplay=x_display).convert("RGB").getpixel((0, 0))
        print(f"\ncorner of the icon {corner}, the tray beside it {tray}")
        assert corner == tray and isinstance(tray, tuple) and min(tray) > 150
        feeder.start()
        samples: list[list[tuple[int, int]]] = []
        start = len(polls)
        end = time.monotonic() + 120
        while len(polls) - start < 22 and time.monotonic() < end:
            app_pump(app, lambda: False, timeout=0.15)
            samples.append(docked_sizes(x_display))
        stop.set()
        app_pump(app, lambda: False, timeout=1.0)
        samples.append(docked_sizes(x_display))
        n_polls = len(polls) - start
        assert n_polls >= 20, f"only {n_polls} polls"
        assert len(box.uids()) >= 2 + 10  # mail really arrived meanwhile
        bad = [s for s in samples if len(s) != 1 or min(s[0]) < 16]
        print(f"\n{n_polls} polls, {len(samples)} samples of the docked icon, "
              f"sizes seen: {sorted({x for s in samples for x in s})}, "
              f"picture updates sent: {app.tray.picture_updates}, "
              f"dock requests: {app.tray.dock_requests}")
        assert not bad, f"{len(bad)} of {len(samples)} samples not one full icon: {bad[:5]}"
        # a hover shows the tooltip (the xorg backend has none of its own)
        from .desktop import xdotool

        xdotool(x_display, "mousemove", "600", "600")
        app_pump(app, lambda: not app.tooltip.visible, 2)
        xdotool(x_display, "mousemove", str(x), str(y))
        assert app_pump(app, lambda: app.tooltip.visible, 5)
        assert app.tooltip.text == app.icon_and_title()[1] and " new (" in app.tooltip.text
        xdotool(x_display, "mousemove", "600", "600")
        assert app_pump(app, lambda: not app.tooltip.visible, 5)
        # the picture is sent only when it changes; the dock request only once
        assert app.tray.dock_requests == 1
        assert app.tray.picture_updates < n_polls
    finally:
        stop.set()
        app.quit()
        app.shutdown()


def test_badge_readable_at_16_and_24_px() -> None:
    """Small badges are drawn at their real size: solid red, pure white
    digits (no blur, no fringe), a different picture per count; the corners
    stay transparent (no black box)."""
    from traymail.icons import IconState, draw_icon

    for size, counts in ((16, range(1, 10)), (24, range(1, 100))):
        pictures = {draw_icon(size, IconState.NEW, n).tobytes() for n in counts}
        assert len(pictures) == len(counts), size  # every count looks different
        img = draw_icon(size, IconState.NEW, 7)
        badge = img.crop((size // 2, 0, size, size * 5 // 8))
        pixels = [badge.getpixel((i, j)) for j in range(badge.height) for i in range(badge.width)]
        white = sum(1 for p in pixels if p[:3] == (255, 255, 255) and p[3] == 255)
        red = sum(1 for p in pixels if p == (214, 40, 40, 255))
        assert white >= 6 and red >= 20, (size, white, red)
        assert img.getpixel((0, size - 1))[3] == 0  # transparent corner
    assert draw_icon(16, IconState.NEW, 12).tobytes() == draw_icon(16, IconState.NEW, 50).tobytes()


LATE_CHILD = r"""
import os, sys, threading
os.environ["PYSTRAY_BACKEND"] = "xorg"
from pathlib import Path
from tests.uitools import pump
from traymail.accounts import Accounts
from traymail.app import App
from traymail.devserver import DevServer, MemoryMailbox
from traymail.passwords import MemoryStore
from traymail.platform_support import LinuxSupport
from traymail.samples import sample_messages
from traymail.settings import Account, Security, Settings, resolve_paths

home = Path(sys.argv[1])
with DevServer(MemoryMailbox(sample_messages(1)), {"user": "pass"}) as srv:
    account = Account("Home", "127.0.0.1", "user", security=Security.NONE, port=srv.port,
                      allow_insecure=True, check_interval_minutes=60)
    store = MemoryStore()
    store.set(account, "pass")
    paths = resolve_paths(home=home)
    app = App(paths, accounts=Accounts(paths, Settings((account,)), passwords=store),
              platform=LinuxSupport(home / "xdg"), use_notifier=False, single_instance=False)
    app.start()
    assert app.tray.ready.wait(10)
    assert pump(app.root, lambda: "Home" in app.results, 15)
    pump(app.root, timeout=9.0)  # past the dock retries: the picture is final
    print("ready", app.tray.picture_updates, flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), done.set()), daemon=True).start()
    pump(app.root, done.is_set, 60)
    print("pictures", app.tray.picture_updates, flush=True)
    app.quit()
    app.shutdown()
"""


def test_icon_docks_when_the_tray_host_starts_later(tmp_path: Path) -> None:
    """No tray at start (a panel that comes up after autostart): the icon
    docks when the host announces itself (MANAGER), with no picture change.
    The app runs in its own process on its own Xvfb (Tk never lets go of a
    display, and this one goes away at the end)."""
    import subprocess
    import sys

    from .desktop import start_tray_host, start_xvfb, tray_icons, wait_for

    xvfb, display = start_xvfb("1024x600x24")
    desktop = Desktop()
    root = Path(__file__).resolve().parent.parent
    child = subprocess.Popen([sys.executable, "-c", LATE_CHILD, str(tmp_path / "home")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=root,
                             env={**os.environ, "DISPLAY": display})
    try:
        assert child.stdout is not None and child.stdin is not None
        line = child.stdout.readline().split()
        assert line[:1] == ["ready"], (line, child.stderr.read() if child.poll() else "")
        assert tray_icons(display) == []
        start_tray_host(desktop, display)
        wait_for(lambda: tray_icons(display), 10, "the icon in the late tray")
        icon = tray_icons(display)[0]
        assert icon["width"] >= 16 and icon["height"] >= 16
        child.stdin.write("quit\n")
        child.stdin.flush()
        after = child.stdout.readline().split()
        assert after == ["pictures", line[1]]  # docked without a new picture
        assert child.wait(20) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(5)
        desktop.stop()
        xvfb.stop()
