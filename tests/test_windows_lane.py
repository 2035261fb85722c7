"""The Windows lane's checks of the real Windows path: Linux Python drives
Windows CPython under Wine (scripts/test-windows sets it up and runs this
module; the ordinary run does not collect it, see conftest.py).

The devserver runs here, on Linux, on loopback; the console commands and the
app run on Windows Python against it. The app's icon docks in trayer (an
XEmbed tray) on this module's Xvfb; clicks are real X input (xdotool), the
Run key is read back with Wine's ``reg query``, the single-instance hand-off
goes over the named pipe. The tests run in order and share one app process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from traymail.devserver import DevServer, MemoryMailbox
from traymail.samples import sample_message, sample_messages

from .desktop import Desktop, start_tray_host, tray_icons, wait_for, xdotool
from .winlane import WineLane

RUN_KEY = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run"
USER, PASSWORD = "demo", "demo-Secret-1"


@pytest.fixture(scope="module")
def lane(x_display: str) -> WineLane:
    lane = WineLane.from_env()
    lane.display = x_display
    return lane


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with DevServer(MemoryMailbox(sample_messages(6)), {USER: PASSWORD}) as srv:
        yield srv


def make_home(lane: WineLane, name: str, srv: DevServer) -> Path:
    home = lane.root / "run" / name
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    account = {"name": "Dev", "host": "127.0.0.1", "port": srv.port, "username": USER,
               "security": "none", "allow_insecure": True, "check_interval_minutes": 60}
    (home / "settings.json").write_text(json.dumps({"schema_version": 1,
                                                    "accounts": [account]}))
    return home


@pytest.fixture(scope="module")
def cli_home(lane: WineLane, server: DevServer) -> Path:
    return make_home(lane, "cli-home", server)


def traymail(lane: WineLane, home: Path, *args: str, stdin: str = "",
             ok: bool = True) -> subprocess.CompletedProcess[str]:
    out = lane.python("-m", "traymail", *args, "--home", lane.win(home), stdin=stdin)
    if ok and out.returncode != 0:
        raise AssertionError(f"traymail {' '.join(args)} -> {out.returncode}\n"
                             f"{out.stdout}\n{out.stderr}")
    return out


# -- the console commands on Windows Python ---------------------------------------------

def test_cli_set_password_into_credential_manager(lane: WineLane, cli_home: Path,
                                                  server: DevServer) -> None:
    traymail(lane, cli_home, "set-password", stdin=PASSWORD + "\n")
    assert PASSWORD not in (cli_home / "settings.json").read_text()
    read = lane.python("-c", "import keyring, sys; k = keyring.get_keyring(); "
                       "print(type(k).__name__, k.get_password('traymail', sys.argv[1]))",
                       f"{USER}@127.0.0.1:{server.port}")
    assert read.stdout.split() == ["WinVaultKeyring", PASSWORD], read.stderr


def test_cli_check_json(lane: WineLane, cli_home: Path, server: DevServer) -> None:
    entry = json.loads(traymail(lane, cli_home, "check", "--json").stdout)["accounts"][0]
    box = server.mailbox.snapshot()
    assert entry["state"] == "ok"
    assert (entry["total_count"], entry["total_size"]) == (len(box), sum(len(m.data)
                                                                          for m in box))
    assert entry["new_count"] == len(box) and sorted(entry["newly_arrived"]) == sorted(
        m.uid for m in box)


def test_cli_headers(lane: WineLane, cli_home: Path, server: DevServer) -> None:
    heads = json.loads(traymail(lane, cli_home, "headers", "--json").stdout)
    assert [h["uid"] for h in heads] == [m.uid for m in server.mailbox.snapshot()]
    assert all(h["subject"] and h["from"] for h in heads)
    text = traymail(lane, cli_home, "headers").stdout
    assert heads[0]["subject"] in text


def test_cli_fetch(lane: WineLane, cli_home: Path, server: DevServer) -> None:
    first = server.mailbox.snapshot()[0]
    out = traymail(lane, cli_home, "fetch", first.uid).stdout
    files = list((cli_home / "downloads").rglob("*.eml"))
    assert len(files) == 1 and files[0].read_bytes() == first.data, out
    assert files[0].name in out


def test_cli_delete(lane: WineLane, cli_home: Path, server: DevServer) -> None:
    before = server.mailbox.snapshot()
    gone = before[1].uid
    out = traymail(lane, cli_home, "delete", gone, "--yes").stdout
    assert "deleted" in out
    assert [m.uid for m in server.mailbox.snapshot()] == [m.uid for m in before
                                                          if m.uid != gone]


def test_winsound_plays_the_chime(lane: WineLane, tmp_path: Path) -> None:
    """The new-mail sound on Windows: winsound (async) -> Wine's winmm -> ALSA,
    whose default device here is the "file" plugin: the bytes that reach the
    sound device are recorded and must be the chime's samples."""
    import wave

    from traymail.sound import default_sound

    played = tmp_path / "played.raw"
    (tmp_path / ".asoundrc").write_text(
        f'pcm.!default {{ type file; slave.pcm "null"; file "{played}"; format "raw" }}\n')
    code = ("import time\nfrom traymail.sound import Player\np = Player()\n"
            "print(p.play('default'), [how for _, how in p.played])\n"
            "time.sleep(1)\nprint(p.play('default', paused=True))\ntime.sleep(3)")
    out = lane.python("-c", code, env=lane.env(HOME=str(tmp_path)))
    assert out.returncode == 0 and out.stdout.split("\n")[:2] == ["True ['winsound']", "False"], \
        out
    with wave.open(str(default_sound())) as w:
        samples = w.readframes(w.getnframes())
    got = played.read_bytes() if played.exists() else b""
    assert len(got) >= 0.9 * len(samples), (len(got), len(samples))
    assert got[:len(samples)] == samples[:len(got)]  # the same samples, unconverted


# -- the app on Windows Python, in trayer ----------------------------------------------

class RunningApp:
    def __init__(self, lane: WineLane, home: Path) -> None:
        self.lane, self.home = lane, home
        self.proc = lane.popen("-m", "traymail", "--home", lane.win(home))
        self.autostart_value = ""
        #: balloons seen on screen: (time, width, height); Wine draws a tray
        #: balloon as an override-redirect window of its explorer.exe
        self.balloons: list[tuple[float, int, int]] = []
        self._watch = threading.Thread(target=self._watch_balloons, daemon=True)
        self._watch.start()

    def _watch_balloons(self) -> None:
        import Xlib.display
        import Xlib.error
        import Xlib.X

        d = Xlib.display.Display(self.lane.display)
        try:
            while self.proc.poll() is None:
                try:
                    children = d.screen().root.query_tree().children
                except Xlib.error.ConnectionClosedError:  # the display went first
                    return
                for win in children:
                    try:
                        attrs = win.get_attributes()
                        if (attrs.map_state == Xlib.X.IsViewable and attrs.override_redirect
                                and "explorer.exe" in (win.get_wm_class() or ())):
                            geo = win.get_geometry()
                            self.balloons.append((time.monotonic(), geo.width, geo.height))
                    except Exception:  # a window vanished meanwhile
                        pass
                time.sleep(0.25)
        finally:
            try:
                d.close()
            except Exception:
                pass

    def log(self) -> str:
        path = self.home / "logs" / "traymail.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def windows(self, name: str) -> list[str]:
        out = xdotool(self.lane.display, "search", "--onlyvisible", "--name", name)
        return out.split()

    def output(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        out, err = self.proc.communicate(timeout=10)
        return out + err


@pytest.fixture(scope="module")
def app(lane: WineLane, server: DevServer) -> Iterator[RunningApp]:
    desktop = Desktop()
    start_tray_host(desktop, lane.display)
    # the password is in Credential Manager already (set-password above: same account)
    running = RunningApp(lane, make_home(lane, "app-home", server))
    try:
        yield running
    finally:
        if running.proc.poll() is None:
            lane.python("-m", "traymail", "--quit", "--home", lane.win(running.home),
                        timeout=60)
            try:
                running.proc.wait(20)
            except subprocess.TimeoutExpired:
                running.proc.kill()
        running._watch.join(10)
        desktop.stop()


def icon_center(display: str) -> tuple[int, int]:
    icon = tray_icons(display)[0]
    return icon["x"] + icon["width"] // 2, icon["y"] + icon["height"] // 2


def close_window(display: str, wid: str) -> None:
    """WM_DELETE_WINDOW, as a window manager's close button sends it."""
    import Xlib.display
    import Xlib.protocol.event
    import Xlib.X

    d = Xlib.display.Display(display)
    try:
        win = d.create_resource_object("window", int(wid))
        proto, delete = d.intern_atom("WM_PROTOCOLS"), d.intern_atom("WM_DELETE_WINDOW")
        event = Xlib.protocol.event.ClientMessage(window=win, client_type=proto,
                                                  data=(32, [delete, Xlib.X.CurrentTime,
                                                             0, 0, 0]))
        win.send_event(event, event_mask=Xlib.X.NoEventMask)
        d.flush()
    finally:
        d.close()


def close_mailbox(app: RunningApp) -> None:
    """Close the mailbox window(s); a close sent while Wine is still mapping a
    window can get lost, so it is sent again until the window is gone."""
    end = time.monotonic() + 30
    while app.windows(MAILBOX) and time.monotonic() < end:
        for wid in app.windows(MAILBOX):
            close_window(app.lane.display, wid)
        time.sleep(2)
    assert not app.windows(MAILBOX), "the mailbox window did not close"


def test_dock(app: RunningApp) -> None:
    wait_for(lambda: tray_icons(app.lane.display) or app.proc.poll() is not None, 90,
             "the icon in trayer")
    assert app.proc.poll() is None, app.output()
    icon = tray_icons(app.lane.display)[0]
    assert icon["width"] >= 16 and icon["height"] >= 16


def test_left_click_opens_mailbox(app: RunningApp) -> None:
    assert not app.windows(MAILBOX)
    x, y = icon_center(app.lane.display)
    xdotool(app.lane.display, "mousemove", str(x), str(y), "click", "1")
    wait_for(lambda: app.windows(MAILBOX), 30, "the mailbox window")
    close_mailbox(app)
    assert app.proc.poll() is None  # closing the window does not end the app


def test_menu_check_now(app: RunningApp, server: DevServer) -> None:
    server.mailbox.add(sample_message(40))  # type: ignore[attr-defined]
    before = server.connections
    choose(app, "Check now")
    wait_for(lambda: server.connections > before, 30, "a check from the menu")
    assert not app.windows(MAILBOX)  # it was "Check now", not "Open mailbox"


def menu_item_at(menu: dict[str, int], labels: list[str], label: str) -> tuple[int, int]:
    """Where ``label`` is in a native menu of ``labels`` ('-' = separator):
    Wine's menu items are equally tall, a separator is half an item."""
    units = sum(0.5 if lab == "-" else 1.0 for lab in labels)
    unit = (menu["height"] - 6) / units
    y = 3.0
    for lab in labels:
        h = unit * (0.5 if lab == "-" else 1.0)
        if lab == label:
            return menu["x"] + menu["width"] // 3, menu["y"] + int(y + h / 2)
        y += h
    raise KeyError(label)


#: the mailbox window's title: "traymail", or "traymail — <account>: N new"
MAILBOX = "^traymail( — [^:]+: [0-9]+ new)?$"

MENU = ["Open mailbox", "Check now", "Show log", "Settings…", "Rules…", "-",
        "Pause notifications",
        "Mark all as seen", "Start with Windows", "-", "Quit"]


def popup_windows(display: str) -> list[dict[str, int]]:
    """Mapped override-redirect top-level windows (a native menu under Wine)."""
    import Xlib.display
    import Xlib.X

    d = Xlib.display.Display(display)
    try:
        found = []
        for win in d.screen().root.query_tree().children:
            try:
                attrs = win.get_attributes()
                if attrs.map_state == Xlib.X.IsViewable and attrs.override_redirect:
                    geo = win.get_geometry()
                    if geo.width > 60 and geo.height > 100:
                        found.append({"x": geo.x, "y": geo.y, "width": geo.width,
                                      "height": geo.height})
            except Exception:
                pass
        return found
    finally:
        d.close()


def choose(app: RunningApp, label: str) -> None:
    """Right click on the icon, then click ``label`` in the native menu."""
    display = app.lane.display
    x, y = icon_center(display)
    xdotool(display, "mousemove", str(x), str(y), "click", "3")
    wait_for(lambda: popup_windows(display), 20, "the native menu")
    time.sleep(0.5)
    menu = popup_windows(display)[0]
    mx, my = menu_item_at(menu, MENU, label)
    xdotool(display, "mousemove", str(mx), str(my))
    time.sleep(0.3)
    xdotool(display, "click", "1")
    wait_for(lambda: not popup_windows(display), 20, "the menu to close")


def test_balloon_fallback_once(app: RunningApp) -> None:
    """WinRT toasts fail under Wine (class not registered): the first toast
    logs it once, that toast and every later one go to the tray balloon
    (two toasts by now: the first check's summary, the new mail of "Check now")."""
    wait_for(lambda: "no notification service" in app.log(), 30, "the toast failure")
    wait_for(lambda: app.balloons, 30, "a tray balloon on screen")
    _, width, height = app.balloons[-1]
    assert width > 100 and 20 < height < 300
    time.sleep(2)
    assert app.log().count("no notification service") == 1, app.log()
    assert app.proc.poll() is None


def test_start_with_windows(app: RunningApp) -> None:
    assert app.lane.reg_query(RUN_KEY, "traymail") is None
    choose(app, "Start with Windows")
    wait_for(lambda: app.lane.reg_query(RUN_KEY, "traymail"), 30, "the Run value")
    value = app.lane.reg_query(RUN_KEY, "traymail") or ""
    assert "traymail" in value and app.lane.win(app.home) in value, value
    app.autostart_value = value
    choose(app, "Start with Windows")
    wait_for(lambda: app.lane.reg_query(RUN_KEY, "traymail") is None, 30,
             "the Run value to go")


def test_autostart_starts_without_console(app: RunningApp) -> None:
    """The Run value starts traymailw / pythonw.exe, never python.exe (a
    console window at every login)."""
    value = app.autostart_value.lower()
    assert value, "test_start_with_windows did not record the Run value"
    assert "python.exe" not in value and ("pythonw.exe" in value or "traymailw" in value), \
        value


def test_second_launch_hands_off(app: RunningApp) -> None:
    assert not app.windows(MAILBOX)
    second = app.lane.python("-m", "traymail", "--home", app.lane.win(app.home), timeout=90)
    assert second.returncode == 0 and "already running" in second.stdout, second
    wait_for(lambda: app.windows(MAILBOX), 30, "the window, from the second launch")
    close_mailbox(app)
    show = app.lane.python("-m", "traymail", "--show", "--home", app.lane.win(app.home),
                           timeout=90)
    assert show.returncode == 0, show
    wait_for(lambda: app.windows(MAILBOX), 30, "the window, from --show")
    assert app.proc.poll() is None


def test_quit(app: RunningApp) -> None:
    out = app.lane.python("-m", "traymail", "--quit", "--home", app.lane.win(app.home),
                          timeout=90)
    assert out.returncode == 0, out
    app.proc.wait(30)
    assert app.proc.returncode == 0, app.output()
    wait_for(lambda: not tray_icons(app.lane.display), 20, "the icon to go")
