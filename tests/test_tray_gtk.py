"""The installed app with pystray's gtk backend (the traymail[gtk] extra):
the real process, a real XEmbed tray, a real GTK menu, driven by xdotool."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from traymail.devserver import DevServer, MemoryMailbox
from traymail.samples import sample_messages

from .desktop import (
    Desktop,
    require_gtk,
    start_notification_daemon,
    start_tray_host,
    tray_icons,
    wait_for,
    xdotool,
)


@pytest.fixture(scope="module")
def gtk_desktop(x_display: str) -> Iterator[Desktop]:
    require_gtk()
    desktop = Desktop()
    desktop.start_secret_service()
    start_notification_daemon(desktop, x_display)
    start_tray_host(desktop, x_display)
    desktop.env["DISPLAY"] = x_display
    yield desktop
    desktop.stop()


def windows_named(display: str, name: str) -> list[str]:
    return xdotool(display, "search", "--onlyvisible", "--name", name).split()


def test_gtk_backend_menu_opens_window_and_quits(gtk_desktop: Desktop, x_display: str,
                                                 tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with DevServer(MemoryMailbox(sample_messages(4)), {"user": "s3cret-gtk"}) as srv:
        (home / "settings.json").write_text(json.dumps({"accounts": [{
            "name": "Gtk", "host": "127.0.0.1", "username": "user", "port": srv.port,
            "security": "none", "allow_insecure": True}]}))
        env = {**gtk_desktop.env, "PYSTRAY_BACKEND": "gtk"}
        subprocess.run([sys.executable, "-m", "traymail", "--home", str(home), "set-password"],
                       input="s3cret-gtk\n", text=True, env=env, check=True, timeout=60)
        before_icons = len(tray_icons(x_display))
        proc = subprocess.Popen([sys.executable, "-m", "traymail", "--home", str(home)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            wait_for(lambda: len(tray_icons(x_display)) > before_icons, 20, "the gtk icon")
            wait_for(lambda: srv.connections >= 1, 20, "the first check")
            time.sleep(0.8)  # GTK re-lays the plug out once after docking
            icon = tray_icons(x_display)[-1]
            x, y = icon["x"] + icon["width"] // 2, icon["y"] + icon["height"] // 2
            before = set(xdotool(x_display, "search", "--onlyvisible", "--name", "").split())
            xdotool(x_display, "mousemove", str(x), str(y), "click", "3")
            wait_for(lambda: set(xdotool(x_display, "search", "--onlyvisible", "--name",
                                         "").split()) - before, 10, "the GTK menu")
            xdotool(x_display, "key", "Down", "Return")  # the first item: Open mailbox
            wait_for(lambda: windows_named(x_display, "^traymail — "), 15, "the mailbox window")
            xdotool(x_display, "mousemove", str(x), str(y), "click", "3")
            time.sleep(0.8)
            xdotool(x_display, "key", "Up", "Return")  # the last item: Quit
            t0 = time.monotonic()
            proc.wait(15)
            assert time.monotonic() - t0 < 8
            assert proc.returncode == 0, proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                out, err = proc.communicate()
                pytest.fail(f"the app did not quit:\n{err[-3000:]}")
    assert "s3cret-gtk" not in proc.stderr.read()
    assert not [p for p in home.rglob("*") if p.is_file() and b"s3cret-gtk" in p.read_bytes()]


def _ayatana_typelib() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import gi; gi.require_version("
                            "'AyatanaAppIndicator3', '0.1')"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.parametrize("backend", [None, "appindicator"])
def test_tray_backend_falls_back_when_appindicator_cannot_load(
        gtk_desktop: Desktop, x_display: str, tmp_path: Path, backend: str | None) -> None:
    """traymail[gtk] without the AyatanaAppIndicator typelib: pystray's
    appindicator backend raises ValueError at import; the app falls back
    (gtk here) instead of dying, docks its icon and says which backend runs."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in gtk_desktop.env.items() if k != "PYSTRAY_BACKEND"}
    if backend is not None:
        env["PYSTRAY_BACKEND"] = backend
    typelib = _ayatana_typelib()
    before_icons = len(tray_icons(x_display))
    proc = subprocess.Popen([sys.executable, "-m", "traymail", "--home", str(home)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = home / "logs" / "traymail.log"
    try:
        wait_for(lambda: log.exists() and "tray backend:" in log.read_text(), 20,
                 "the backend log line")
        text = log.read_text()
        if typelib:  # the machine has it: appindicator runs (no XEmbed icon to see)
            assert "tray backend: appindicator" in text
        else:
            assert "tray backend appindicator could not load" in text
            assert "AyatanaAppIndicator3 not available" in text
            assert "tray backend: gtk" in text
            wait_for(lambda: len(tray_icons(x_display)) > before_icons, 20, "the gtk icon")
        assert proc.poll() is None  # running, not dead at start
        quit_ = subprocess.run([sys.executable, "-m", "traymail", "--home", str(home),
                                "--quit"], env=env, capture_output=True, text=True,
                               timeout=60)
        assert quit_.returncode == 0, quit_.stderr
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
    out, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err
