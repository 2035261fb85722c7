"""Screenshots of the three windows, made under Xvfb, for docs/.

    python scripts/screenshots.py [--language LANG] [OUT_DIR]      (default: docs/)

Starts its own Xvfb and devserver (sample mailbox), opens the real windows,
drives them a little, and grabs each one as a PNG. With ``--language ru`` the
windows speak Russian and the files are named ``*-ru.png`` (the mailbox window
also at its minimum size: ``mailbox-window-ru-min.png``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.desktop import start_xvfb  # noqa: E402
from tests.uitools import pump, screenshot  # noqa: E402


def recent_samples(count: int) -> list[bytes]:
    """The sample mailbox, dated over the last days (relative dates show)."""
    import re
    from email.utils import format_datetime

    from traymail.samples import sample_message

    now = time.time()
    out = []
    for i in range(count):
        ago = 300 * (1 + i) if i < 2 else 3600 * i * 9  # a few today, then past days
        when = format_datetime(datetime.fromtimestamp(now - ago).astimezone())
        out.append(re.sub(rb"(?m)^Date: [^\r\n]*", b"Date: " + when.encode(),
                          sample_message(i), count=1))
    return out


def grab(display: str, window: object, path: Path) -> None:
    top = window.top  # type: ignore[attr-defined]
    top.update()
    screenshot(display, str(path), (top.winfo_rootx(), top.winfo_rooty(),
                                    top.winfo_rootx() + top.winfo_width(),
                                    top.winfo_rooty() + top.winfo_height()))
    print(path)


def tray_scene(display: str, out: Path, srv: object, store: object, account: object,
               home: Path, suffix: str = "") -> None:
    """The tray icon with its badge, a toast (dunst) and the menu."""
    os.environ["PYSTRAY_BACKEND"] = "xorg"
    from tests.desktop import (
        Desktop,
        start_notification_daemon,
        start_tray_host,
        tray_icons,
        wait_for,
        xdotool,
    )
    from traymail.accounts import Accounts
    from traymail.app import App
    from traymail.platform_support import LinuxSupport
    from traymail.samples import sample_message
    from traymail.settings import Settings, resolve_paths

    desktop = Desktop()
    try:
        desktop.start_bus()
        start_notification_daemon(desktop, display)
        start_tray_host(desktop, display)
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = desktop.env["DBUS_SESSION_BUS_ADDRESS"]
        paths = resolve_paths(home=home / "tray")
        accounts = Accounts(paths, Settings((account,)), passwords=store)  # type: ignore[arg-type]
        app = App(paths, accounts=accounts, platform=LinuxSupport(home / "xdg"),
                  single_instance=False)
        app.start()
        pump(app.root, lambda: app.toasts, 15)
        srv.mailbox.add(sample_message(40))  # type: ignore[attr-defined]
        srv.mailbox.add(sample_message(41))  # type: ignore[attr-defined]
        app.check_now()
        pump(app.root, lambda: len(app.toasts) > 1, 15)
        wait_for(lambda: tray_icons(display), 10, "the icon")
        pump(app.root, timeout=1.0)
        icon = tray_icons(display)[0]
        x, y = icon["x"] + icon["width"] // 2, icon["y"] + icon["height"] // 2
        xdotool(display, "mousemove", str(x), str(y), "click", "3")
        pump(app.root, lambda: getattr(app, "_popup", None) is not None, 5)
        pump(app.root, timeout=0.5)
        screenshot(display, str(out / f"tray-toast-menu{suffix}.png"), (0, 0, 1280, 420))
        print(out / f"tray-toast-menu{suffix}.png")
        app._popup.unpost()
        app.shutdown()
    finally:
        desktop.stop()


def main() -> int:
    args = sys.argv[1:]
    language = ""
    if args[:1] == ["--language"] and len(args) > 1:
        language, args = args[1], args[2:]
    out = Path(args[0]) if args else ROOT / "docs"
    suffix = f"-{language}" if language else ""
    if language:
        from traymail.i18n import set_language

        set_language(language)
    out.mkdir(parents=True, exist_ok=True)
    proc, display = start_xvfb("1280x900x24")
    os.environ["DISPLAY"] = display
    try:
        from traymail.accounts import Accounts
        from traymail.devserver import DevServer, MemoryMailbox
        from traymail.passwords import MemoryStore
        from traymail.settings import Account, Security, Settings, resolve_paths
        from traymail.ui.log_window import LogWindow
        from traymail.ui.mailbox_window import MailboxWindow
        from traymail.ui.root import create_root
        from traymail.ui.settings_dialog import SettingsDialog
        from traymail.ui.worker import TkBridge

        home = Path(tempfile.mkdtemp(prefix="traymail-shots-"))
        with DevServer(MemoryMailbox(recent_samples(14)), {"demo": "demo"}) as srv:
            account = Account("Demo", "127.0.0.1", "demo", security=Security.NONE,
                              port=srv.port, allow_insecure=True)
            store = MemoryStore()
            store.set(account, "demo")
            accounts = Accounts(resolve_paths(home=home), Settings((account,)), passwords=store)
            root = create_root()
            bridge = TkBridge(root)
            mb = accounts.mailbox()
            mb.check()
            win = MailboxWindow(root, bridge, accounts, confirm=lambda t, m: True)
            win.top.geometry("1040x700+10+10")
            pump(root, lambda: not win.busy and win.tree.get_children(), 10)
            items = win.tree.get_children()
            win.tree.selection_set(items[5:7])
            win.toggle_mark()
            with_file = [u for u in items if win.headers[u].attachments][0]
            win.tree.selection_set(with_file)
            win.tree.focus(with_file)
            win.show_preview()
            pump(root, lambda: win.headers[with_file].subject in win.preview.get("1.0", "end")
                 and "Line 1" in win.preview.get("1.0", "end"), 10)
            pump(root, timeout=0.3)
            grab(display, win, out / f"mailbox-window{suffix}.png")
            if language:  # the smallest the window gets: every button still whole
                min_w, min_h = (int(v) for v in win.top.minsize())
                win.top.geometry(f"{min_w}x{min_h}")
                pump(root, timeout=0.5)
                grab(display, win, out / f"mailbox-window{suffix}-min.png")
                win.top.geometry("1040x700+10+10")
            log = LogWindow(root, bridge, accounts)
            log.top.geometry("800x420+30+30")
            pump(root, timeout=0.5)
            grab(display, log, out / f"log-window{suffix}.png")
            log.close()
            dlg = SettingsDialog(root, bridge, accounts)
            dlg.top.geometry("+40+40")
            dlg.test_connection()
            pump(root, lambda: dlg.test_result, 10)
            pump(root, lambda: dlg.errors["password"].cget("text"), 5)
            pump(root, timeout=0.3)
            grab(display, dlg, out / f"settings-dialog{suffix}.png")
            dlg.close()
            win.close()
            bridge.close()
            root.destroy()
            tray_scene(display, out, srv, store, account, home, suffix)
            time.sleep(0.1)
    finally:
        proc.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
