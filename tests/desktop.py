"""Real desktop services for tests: a private D-Bus session bus and a real
Secret Service (gnome-keyring-daemon) on it.

Every helper is started in its own process group, with a parent-death signal
where setpriv exists, and stopped by its own PID. The bus has no service
directories, so nothing is auto-started behind the test's back.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .realservers import require_real

_SETPRIV = shutil.which("setpriv")

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class Proc:
    def __init__(self, argv: list[str], env: dict[str, str], **kw: object) -> None:
        if _SETPRIV:
            argv = [_SETPRIV, "--pdeathsig", "TERM", "--", *argv]
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        self.popen = subprocess.Popen(argv, env=env, start_new_session=True, **kw)  # type: ignore[call-overload]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def wait_for(pred: Callable[[], object], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


class Desktop:
    """A private session: its own HOME/XDG dirs and D-Bus; more daemons on demand."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="traymail-desktop-"))
        self.env = dict(os.environ)
        for var, sub in (("HOME", "home"), ("XDG_DATA_HOME", "home/.local/share"),
                         ("XDG_CONFIG_HOME", "home/.config"), ("XDG_CACHE_HOME", "home/.cache"),
                         ("XDG_RUNTIME_DIR", "run")):
            path = self.root / sub
            path.mkdir(parents=True, exist_ok=True)
            self.env[var] = str(path)
        os.chmod(self.root / "run", 0o700)
        self.env.pop("PYTHON_KEYRING_BACKEND", None)
        self.procs: list[Proc] = []

    def start_bus(self) -> None:
        if shutil.which("dbus-daemon") is None:
            require_real("dbus-daemon", "install the Debian package dbus-daemon")
        conf = self.root / "bus.conf"
        conf.write_text(BUS_CONF.format(dir=self.root / "run"))
        rfd, wfd = os.pipe()
        proc = Proc(["dbus-daemon", f"--config-file={conf}", "--nofork", "--nopidfile",
                     f"--print-address={wfd}"], self.env, pass_fds=(wfd,))
        os.close(wfd)
        with os.fdopen(rfd, "rb") as r:
            address = r.readline().decode().strip()
        if not address:
            raise RuntimeError("dbus-daemon did not start")
        self.procs.append(proc)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = address

    def has_name(self, name: str) -> bool:
        out = subprocess.run(
            ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
             "/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames"],
            env=self.env, capture_output=True, text=True, timeout=10)
        return f'"{name}"' in out.stdout

    def start_secret_service(self) -> None:
        """gnome-keyring-daemon with an unlocked 'login' collection (no prompt)."""
        if shutil.which("gnome-keyring-daemon") is None:
            require_real("gnome-keyring", "install the Debian package gnome-keyring")
        if "DBUS_SESSION_BUS_ADDRESS" not in self.env or not self.procs:
            self.start_bus()
        proc = Proc(["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets",
                     f"--control-directory={self.root / 'run' / 'keyring'}"],
                    self.env, stdin=subprocess.PIPE)
        assert proc.popen.stdin is not None
        proc.popen.stdin.write(b"ci-test-login-password")
        proc.popen.stdin.close()
        self.procs.append(proc)
        wait_for(lambda: self.has_name("org.freedesktop.secrets"), 15,
                 "gnome-keyring on the session bus")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start_xvfb(size: str = "1280x800x24") -> tuple[Proc, str]:
    """Xvfb on a display number it picks itself (-displayfd): no collisions."""
    if shutil.which("Xvfb") is None:
        require_real("Xvfb", "install the Debian package xvfb")
    rfd, wfd = os.pipe()
    proc = Proc(["Xvfb", "-displayfd", str(wfd), "-screen", "0", size, "-nolisten", "tcp",
                 "-noreset"], dict(os.environ), pass_fds=(wfd,))
    os.close(wfd)
    buf = b""
    with os.fdopen(rfd, "rb") as r:
        while not buf.endswith(b"\n"):
            chunk = r.read(1)
            if not chunk:
                break
            buf += chunk
    if not buf.strip():
        proc.stop()
        raise RuntimeError("Xvfb did not start")
    return proc, ":" + buf.decode().strip()


def xdotool(display: str, *args: str) -> str:
    if shutil.which("xdotool") is None:
        require_real("xdotool", "install the Debian package xdotool")
    out = subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display},
                         capture_output=True, text=True, timeout=10)
    return out.stdout


DUNSTRC = """[global]
    monitor = 0
    follow = none
    width = 320
    height = 120
    origin = top-left
    offset = 20x60
    font = DejaVu Sans 10
    format = "<b>%s</b>\\n%b"
    idle_threshold = 0
    sticky_history = yes
    show_indicators = no
    mouse_left_click = do_action, close_current
    mouse_right_click = close_all
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
"""


def start_tray_host(desktop: Desktop, display: str) -> None:
    """trayer: an XEmbed system tray (owner of _NET_SYSTEM_TRAY_S0)."""
    if shutil.which("trayer") is None:
        require_real("trayer", "install the Debian package trayer")
    env = {**desktop.env, "DISPLAY": display}
    desktop.procs.append(Proc(["trayer", "--edge", "top", "--align", "right", "--widthtype",
                               "request", "--height", "32", "--SetDockType", "false",
                               "--transparent", "false"], env))
    wait_for(lambda: tray_owner(display), 10, "the tray host")


def require_gtk() -> None:
    """PyGObject with GTK 3 (pystray's gtk backend, the traymail[gtk] extra)."""
    probe = subprocess.run([sys.executable, "-c", "import gi; gi.require_version('Gtk', '3.0');"
                            "from gi.repository import Gtk"], capture_output=True)
    if probe.returncode != 0:
        require_real("PyGObject + GTK 3", "install the gtk extra: pip install '.[gtk]' "
                     "(apt: libgirepository1.0-dev libcairo2-dev gir1.2-gtk-3.0)")


def tray_desktop(display: str, *, notifications: bool = False, **env: str) -> Desktop:
    """A session bus and a tray host on ``display`` (and dunst with
    ``notifications``); ``env`` runs traymail's pystray there (xorg backend)
    with these variables added."""
    d = Desktop()
    d.start_bus()
    if notifications:
        start_notification_daemon(d, display)
    start_tray_host(d, display)
    d.env.update(DISPLAY=display, PYSTRAY_BACKEND="xorg", **env)
    return d


#: the start of a child process running the real app (``python -c``, argv:
#: a devserver's port, the home folder, optionally the CA file of a STARTTLS
#: devserver): one account "Idle" (plain, or STARTTLS verified against that
#: CA) with its password in memory, portable paths, no single-instance channel
APP_CHILD_START = r"""
import json, os, sys, threading, time
from pathlib import Path
from traymail.accounts import Accounts
from traymail.app import App
from traymail.passwords import MemoryStore
from traymail.platform_support import LinuxSupport
from traymail.settings import Account, Security, Settings, resolve_paths

port, home = int(sys.argv[1]), Path(sys.argv[2])
cafile = sys.argv[3] if len(sys.argv) > 3 else None
account = (Account("Idle", "localhost", "user", security=Security.STARTTLS, port=port,
                   cafile=cafile) if cafile else
           Account("Idle", "127.0.0.1", "user", security=Security.NONE, port=port,
                   allow_insecure=True))
store = MemoryStore(); store.set(account, "pass")
paths = resolve_paths(home=home)
app = App(paths, accounts=Accounts(paths, Settings((account,)), passwords=store),
          platform=LinuxSupport(home / "xdg"), single_instance=False)
"""


def start_notification_daemon(desktop: Desktop, display: str, dunstrc: str = DUNSTRC) -> None:
    """dunst on the private bus: left click = the notification's default action
    (unless ``dunstrc`` says otherwise)."""
    if shutil.which("dunst") is None:
        require_real("dunst", "install the Debian package dunst")
    if "DBUS_SESSION_BUS_ADDRESS" not in desktop.env:
        desktop.start_bus()
    conf = desktop.root / "dunstrc"
    conf.write_text(dunstrc)
    env = {**desktop.env, "DISPLAY": display}
    desktop.procs.append(Proc(["dunst", "-config", str(conf)], env))
    wait_for(lambda: desktop.has_name("org.freedesktop.Notifications"), 10, "dunst on the bus")


def tray_owner(display: str) -> bool:
    import Xlib.display

    d = Xlib.display.Display(display)
    try:
        atom = d.intern_atom("_NET_SYSTEM_TRAY_S0")
        return d.get_selection_owner(atom) != 0
    finally:
        d.close()


def tray_icons(display: str) -> list[dict[str, int]]:
    """Docked XEmbed icons (reparented windows with _XEMBED_INFO), root coords."""
    import Xlib.display
    import Xlib.X

    d = Xlib.display.Display(display)
    found: list[dict[str, int]] = []
    try:
        root = d.screen().root
        xembed = d.intern_atom("_XEMBED_INFO")

        def walk(win: object, depth: int) -> None:
            for child in win.query_tree().children:  # type: ignore[attr-defined]
                try:
                    attrs = child.get_attributes()
                    if (depth > 0 and attrs.map_state == Xlib.X.IsViewable
                            and child.get_full_property(xembed, 0)):
                        geo = child.get_geometry()
                        pos = child.translate_coords(root, 0, 0)
                        if geo.width > 1 and geo.height > 1:
                            found.append({"x": -pos.x, "y": -pos.y, "width": geo.width,
                                          "height": geo.height})
                    walk(child, depth + 1)
                except Exception:  # a window vanished meanwhile
                    pass

        walk(root, 0)
        return found
    finally:
        d.close()


def dunst_history(desktop: Desktop) -> list[dict[str, str]]:
    """Notifications dunst showed: [{"summary", "body", "message"}], newest first
    ("message" is the Pango markup dunst rendered from its format)."""
    import json

    out = subprocess.run(["dunstctl", "history"], env=desktop.env, capture_output=True,
                         text=True, timeout=10)
    data = json.loads(out.stdout or "{}")
    items = data.get("data", [[]])[0]
    return [{"summary": i["summary"]["data"], "body": i["body"]["data"],
             "message": i.get("message", {}).get("data", "")} for i in items]


def dunst_displayed(desktop: Desktop) -> int:
    out = subprocess.run(["dunstctl", "count", "displayed"], env=desktop.env,
                         capture_output=True, text=True, timeout=10)
    return int(out.stdout.strip() or 0)
