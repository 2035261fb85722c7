"""Issue 13: when the X display goes away, traymail exits cleanly (status 0),
says so in logs/traymail.log and removes its single-instance socket -- not
Xlib's "X connection broken" and exit(1) with the socket left behind. With a
window open Tk's connection notices (display_watch); an idle app has no Tk,
and its tray icon's connection does (issue 15) -- python-xlib's with the xorg
backend, GDK's libX11 one with the gtk backend (display_watch again)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from traymail.settings import resolve_paths

from .desktop import Desktop, require_gtk, start_xvfb

CHILD = r"""
import sys
from pathlib import Path
from traymail.accounts import Accounts
from traymail.app import App
from traymail.devserver import DevServer, MemoryMailbox
from traymail.passwords import MemoryStore
from traymail.platform_support import LinuxSupport
from traymail.samples import sample_messages
from traymail.settings import Account, Security, Settings, resolve_paths

home = Path(sys.argv[1])
with DevServer(MemoryMailbox(sample_messages(2)), {"user": "pass"}) as srv:
    account = Account("Home", "127.0.0.1", "user", security=Security.NONE, port=srv.port,
                      allow_insecure=True)
    store = MemoryStore()
    store.set(account, "pass")
    paths = resolve_paths(home=home)
    app = App(paths, accounts=Accounts(paths, Settings((account,)), passwords=store),
              platform=LinuxSupport(home / "xdg"), use_tray=sys.argv[2] != "window",
              use_notifier=False)
    if sys.argv[2] == "window":
        app.show_mailbox()
    address = app.instance.address if app.instance is not None else None
    # the gtk backend: display_watch is installed once GDK has loaded libX11
    app.bridge.after(1500 if sys.argv[2] != "gtk" else 4000,
                     lambda: print("ready", address, app._root is not None, flush=True))
    sys.exit(app.run())
"""


@pytest.mark.parametrize("case", ["window", "tray", "gtk"])
def test_display_lost_exits_cleanly(tmp_path: Path, case: str) -> None:
    xvfb, display = start_xvfb("800x600x24")
    home = tmp_path / "home"
    paths = resolve_paths(home=home)
    desktop = Desktop()
    env = {**os.environ, "DISPLAY": display, "PYSTRAY_BACKEND": "xorg"}
    if case == "gtk":
        require_gtk()
        desktop.start_bus()  # pystray's gtk backend talks to D-Bus
        env.update(desktop.env, DISPLAY=display, PYSTRAY_BACKEND="gtk")
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(home), case], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env)
        assert child.stdout is not None
        word, address, has_tk = child.stdout.readline().split()
        assert word == "ready" and address != "None"
        assert has_tk == str(case == "window")  # an idle tray app has no Tk
        if case == "gtk":
            log = (paths.log_dir / "traymail.log").read_text()
            assert "tray backend: gtk" in log
        socket = Path(address)
        assert socket.exists()
    finally:
        xvfb.stop()  # the display goes away under the running app
    try:
        rc = child.wait(20)
    finally:
        if child.poll() is None:
            child.kill()
        desktop.stop()
    err = child.stderr.read() if child.stderr else ""
    assert rc == 0, err
    assert "X connection" not in err
    log = (paths.log_dir / "traymail.log").read_text()
    assert "the display is gone" in log
    assert not socket.exists()
