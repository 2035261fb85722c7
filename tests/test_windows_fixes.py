"""The bugs the Windows lane found (issue 10, item 2), tested on both
platforms: on Windows Python the real Windows call runs (os.startfile, the
registry, sharing violations); on Linux its equivalent (xdg-open, XDG
autostart, /proc/self/fd). Nothing here imports a POSIX-only module."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import time
import tkinter as tk
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from traymail import platform_support as ps
from traymail.accounts import Accounts
from traymail.app import App
from traymail.devserver import DevServer, MemoryMailbox
from traymail.files import file_logger
from traymail.passwords import MemoryStore
from traymail.samples import sample_message, sample_messages
from traymail.settings import Account, Security, Settings, resolve_paths
from traymail.shell import split_args
from traymail.ui.mailbox_window import MailboxWindow
from traymail.ui.root import create_root
from traymail.ui.worker import TkBridge

from .uitools import pump

MakeServer = Callable[..., DevServer]
WINDOWS = sys.platform == "win32"
_KEEP: list[object] = []  # Tk roots are never freed by the collector in a worker thread


@pytest.fixture
def tk_root(request: pytest.FixtureRequest) -> Iterator[tk.Tk]:
    if not WINDOWS:  # Windows Python draws on its own desktop (Wine: the lane's X server)
        request.getfixturevalue("x_display")
    root = create_root(hidden=True)
    _KEEP.append(root)
    yield root
    root.destroy()
    gc.collect()


def make_accounts(home: Path, srv: DevServer | list[DevServer], *names: str) -> Accounts:
    """Accounts ``names`` (default: one, "acct"), each on its own server of ``srv``."""
    store = MemoryStore()
    accounts = []
    servers = srv if isinstance(srv, list) else [srv] * max(1, len(names))
    for name, server in zip(names or ("acct",), servers, strict=True):
        a = Account(name, "127.0.0.1", "user", security=Security.NONE, port=server.port,
                    allow_insecure=True)
        store.set(a, "pass")
        accounts.append(a)
    return Accounts(resolve_paths(home=home), Settings(tuple(accounts)), passwords=store)


def files_held_open(root: Path) -> list[str]:
    """Files under ``root`` this process still holds open. Linux: /proc/self/fd.
    Windows: every file is renamed and deleted; a sharing violation names it
    (so call this last: the files are gone afterwards)."""
    root = root.resolve()
    if WINDOWS:
        stuck = []
        for p in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            try:
                if p.is_file():
                    moved = p.with_name(p.name + ".moved")
                    p.rename(moved)
                    moved.unlink()
            except OSError as exc:
                stuck.append(f"{p}: {exc}")
        return stuck
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(root) + os.sep):
            held.append(target)
    return held


# -- a) opening a message without a program for it ------------------------------------

@pytest.fixture
def no_program_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Linux: the real xdg-open, in a session where nothing opens anything
    (no desktop detected, no MIME handlers, a browser that fails). Windows: the
    real os.startfile on an extension nothing is registered for."""
    if WINDOWS:
        return
    if shutil.which("xdg-open") is None:
        from .realservers import require_real

        require_real("xdg-open", "install the Debian package xdg-utils")
    empty = tmp_path / "no-handlers"
    empty.mkdir()
    for var in ("XDG_CURRENT_DESKTOP", "DESKTOP_SESSION", "KDE_FULL_SESSION",
                "GNOME_DESKTOP_SESSION_ID", "MATE_DESKTOP_SESSION_ID", "DE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(empty))
    monkeypatch.setenv("XDG_DATA_DIRS", str(empty))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(empty))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(empty))
    monkeypatch.setenv("BROWSER", "false")


def test_open_file_without_a_program_raises_open_failed(no_program_env: None,
                                                        tmp_path: Path) -> None:
    f = tmp_path / "message.traymailtest"
    f.write_bytes(b"\x00\x01 nothing opens this \xff")
    with pytest.raises(ps.OpenFailed) as info:
        ps.open_file(f)  # the real call: os.startfile / xdg-open
    assert str(info.value) == "No program opens .traymailtest files"
    assert info.value.path == f
    gone = tmp_path / "gone.eml"
    with pytest.raises(ps.OpenFailed, match="gone.eml is gone"):
        ps.open_file(gone)


def test_open_without_a_program_says_so_and_shows_the_folder(
        tk_root: tk.Tk, no_program_env: None, make_devserver: MakeServer,
        tmp_path: Path) -> None:
    srv = make_devserver(MemoryMailbox(sample_messages(3)))
    accounts = make_accounts(tmp_path / "home", srv)
    callback_errors: list[object] = []
    tk_root.report_callback_exception = (  # type: ignore[assignment]
        lambda *exc: callback_errors.append(exc))
    shown: list[Path] = []
    # the real opener (platform_support.open_file); the folder opener is a fake
    # that records the call (starting Explorer / a file manager helps no test)
    win = MailboxWindow(tk_root, TkBridge(tk_root), accounts, folder_opener=shown.append)
    assert pump(tk_root, lambda: not win.busy and win.tree.get_children(), timeout=15)
    f = tmp_path / "m1.traymailtest"
    f.write_bytes(b"From: a@example.org\r\n\r\nhi\r\n")
    win.open_file(f)
    assert pump(tk_root, lambda: "No program" in win.status.cget("text"), timeout=15), \
        win.status.cget("text")
    assert win.status.cget("text").startswith("No program opens .traymailtest files")
    assert win.folder_button.winfo_manager() == "pack"  # "Show in folder" is offered
    assert not callback_errors  # nothing reached Tk's error handler (the red icon)
    win.folder_button.invoke()
    assert pump(tk_root, lambda: shown, timeout=5)
    assert shown == [f]
    win.set_status("something else")
    assert win.folder_button.winfo_manager() == ""  # the offer goes with its message


def _eml_has_a_program() -> bool:
    if not WINDOWS:
        return False
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CLASSES_ROOT, ".eml") as k:
            return bool(winreg.QueryValue(k, None))
    except OSError:
        return False


def test_enter_on_a_message_with_no_eml_program_keeps_the_icon(
        tk_root: tk.Tk, no_program_env: None, make_devserver: MakeServer,
        tmp_path: Path) -> None:
    """The whole app: Enter on a message downloads it, the real opener finds no
    program for .eml, the status line says so; the app has no internal error."""
    if _eml_has_a_program():
        pytest.skip("this Windows has a program for .eml; the .traymailtest test above "
                    "covers the failure path")
    srv = make_devserver(MemoryMailbox(sample_messages(3)))
    home = tmp_path / "home"
    app = App(resolve_paths(home=home), accounts=make_accounts(home, srv), use_tray=False,
              use_notifier=False, single_instance=False,
              platform=ps.LinuxSupport(tmp_path / "xdg") if not WINDOWS else None)
    _KEEP.append(app)
    try:
        app.start()
        win = app.show_mailbox()
        assert pump(app.root, lambda: not win.busy and win.tree.get_children(), timeout=15)
        first = win.tree.get_children()[0]
        win.tree.selection_set(first)
        win.tree.focus(first)
        win.tree.focus_force()
        pump(app.root, timeout=0.2)
        win.tree.event_generate("<Return>")
        assert pump(app.root, lambda: "No program opens .eml files" in win.status.cget("text"),
                    timeout=20), win.status.cget("text")
        assert win.folder_button.winfo_manager() == "pack"
        pump(app.root, timeout=0.3)
        assert app.internal_error == ""
        assert "internal error" not in app.icon_and_title()[1]
    finally:
        app.shutdown()


# -- b) files closed at shutdown and at account removal --------------------------------

def test_app_shutdown_leaves_no_file_open(tk_root: tk.Tk, make_devserver: MakeServer,
                                          tmp_path: Path) -> None:
    servers = [make_devserver(MemoryMailbox(sample_messages(3))) for _ in range(2)]
    home = tmp_path / "home"
    paths = resolve_paths(home=home)
    app = App(paths, accounts=make_accounts(home, servers, "one", "two"), use_tray=False,
              use_notifier=False,
              platform=ps.LinuxSupport(tmp_path / "xdg") if not WINDOWS else None)
    _KEEP.append(app)
    try:
        app.start()
        assert pump(app.root, lambda: len(app.results) == 2, timeout=20)
        assert app.log_file is not None and app.log_file.exists()
        assert (paths.log_dir / "one.log").exists() and paths.state_db.exists()
        if not WINDOWS:  # the scan sees what is open (the state DB, the app log)
            assert str(paths.state_db.resolve()) in files_held_open(home)
    finally:
        app.shutdown()
    assert app.log_file is None
    assert files_held_open(home) == []
    shutil.rmtree(home)  # no ignore_errors: a held file fails here on Windows
    assert not home.exists()


def test_removing_an_account_closes_its_log(make_devserver: MakeServer,
                                            tmp_path: Path) -> None:
    servers = [make_devserver(MemoryMailbox(sample_messages(2))) for _ in range(2)]
    home = tmp_path / "home"
    accounts = make_accounts(home, servers, "keep", "gone")
    try:
        for mb in accounts.mailboxes():
            mb.check()
        log_dir = accounts.paths.log_dir
        assert (log_dir / "gone.log").stat().st_size > 0
        if not WINDOWS:  # (on Windows the check deletes the files: see the end)
            assert files_held_open(log_dir) == []  # closed after every session
        # a write in flight holds the file open...
        logger = file_logger(log_dir, "gone")
        logger.info("one more line")
        if not WINDOWS:
            assert str((log_dir / "gone.log").resolve()) in files_held_open(log_dir)
        # ...until the account is removed
        accounts.apply(Settings((accounts.settings.account("keep"),)))
        assert accounts.names == ["keep"]
        assert all(getattr(h, "stream", None) is None for h in logger.handlers)
        (log_dir / "gone.log").unlink()  # Windows: a sharing violation if still open
    finally:
        accounts.close()
    assert files_held_open(home) == []


def test_demo_folder_is_removed_and_a_second_demo_hands_off(
        request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The real `traymail --demo` process in a private temp dir; `--show` and
    a second `--demo` reach it; it quits and its throwaway folder is gone."""
    env = dict(os.environ)
    if not WINDOWS:
        env["DISPLAY"] = request.getfixturevalue("x_display")
        env["PYSTRAY_BACKEND"] = "xorg"
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # no toasts needed here
    temp = tmp_path / "temp"
    run = tmp_path / "run"
    temp.mkdir()
    run.mkdir(mode=0o700)
    env.update(TMPDIR=str(temp), TEMP=str(temp), TMP=str(temp), XDG_RUNTIME_DIR=str(run),
               TRAYMAIL_DEMO_EVERY="2", HOME=str(tmp_path / "userhome"),
               XDG_CONFIG_HOME=str(tmp_path / "userhome" / ".config"))
    env.pop("TRAYMAIL_HOME", None)
    proc = subprocess.Popen([sys.executable, "-m", "traymail", "--demo"], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

    def second(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "traymail", *args], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=60)

    try:
        end = time.monotonic() + 40
        homes: list[Path] = []
        while time.monotonic() < end and proc.poll() is None:
            homes = list(temp.glob("traymail-demo-*"))
            if homes and list(homes[0].glob("logs/*.log")):
                break
            time.sleep(0.1)
        assert len(homes) == 1, (homes, proc.poll())
        time.sleep(1.0)
        if not WINDOWS:
            from .desktop import wait_for, xdotool

            def windows() -> set[str]:
                return set(xdotool(env["DISPLAY"], "search", "--onlyvisible", "--name",
                                   "^traymail").split())  # "traymail — Demo: 3 new"

            before = windows()
        shown = second("--show")
        assert shown.returncode == 0, shown.stderr
        assert "demo is running" in shown.stdout
        if not WINDOWS:  # the demo's mailbox window is on screen
            wait_for(lambda: windows() - before, 15, "the demo's window")
        again = second("--demo")
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stdout
        assert len(list(temp.glob("traymail-demo-*"))) == 1  # the second made no folder
        if WINDOWS:
            assert second("--quit").returncode == 0
        else:
            proc.terminate()  # SIGTERM: logout, kill
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    out, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert "could not remove" not in err
    assert not homes[0].exists()
    assert list(temp.iterdir()) == []
    assert not (tmp_path / "userhome" / ".config" / "autostart").exists()


# -- c) autostart ------------------------------------------------------------------------

@pytest.mark.parametrize(("exe", "present", "expected"), [
    (r"C:\Python313\python.exe", {r"C:\Python313\Scripts\traymailw.exe"},
     [r"C:\Python313\Scripts\traymailw.exe"]),
    (r"C:\Users\me\venv\Scripts\python.exe", {r"C:\Users\me\venv\Scripts\traymailw.exe"},
     [r"C:\Users\me\venv\Scripts\traymailw.exe"]),
    (r"C:\Program Files\Python313\python.exe", set(),
     [r"C:\Program Files\Python313\pythonw.exe", "-m", "traymail"]),
    (r"C:\Python313\pythonw.exe", set(), [r"C:\Python313\pythonw.exe", "-m", "traymail"]),
])
def test_autostart_command_on_windows_never_uses_python_exe(
        exe: str, present: set[str], expected: list[str]) -> None:
    command = ps.autostart_command(exe, platform="win32", exists=present.__contains__,
                                   which=lambda name: None)
    assert command == expected
    assert not command[0].lower().endswith("\\python.exe")


def test_autostart_command_frozen_and_linux() -> None:
    assert ps.autostart_command(r"C:\Program Files\traymail\traymail.exe", platform="win32",
                                frozen=True) == [r"C:\Program Files\traymail\traymail.exe"]
    assert ps.autostart_command("/home/me/venv/bin/python3", platform="linux",
                                exists={"/home/me/venv/bin/traymailw"}.__contains__,
                                which=lambda n: None) == ["/home/me/venv/bin/traymailw"]
    assert ps.autostart_command("/usr/bin/python3", platform="linux", exists=lambda p: False,
                                which=lambda n: None) == ["/usr/bin/python3", "-m", "traymail"]


def test_autostart_command_of_this_interpreter() -> None:
    command = ps.autostart_command(sys.executable)
    assert Path(command[0]).name.lower() not in ("python.exe", "python3.exe")
    if WINDOWS:
        assert Path(command[0]).name.lower() in ("traymailw.exe", "pythonw.exe")
        assert Path(command[0]).exists()


def _run_value() -> object:
    if not WINDOWS:
        return None
    return ps.RealWinApi().reg_get(ps.RUN_KEY, ps.VALUE_NAME)


def test_demo_cannot_write_the_real_autostart(tk_root: tk.Tk, make_devserver: MakeServer,
                                              monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    """The demo's "Start with ..." item is disabled and its action does nothing:
    the real platform support (XDG autostart in a private config home on Linux,
    the real HKCU Run key on Windows) is left as it was."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    srv = make_devserver()
    home = tmp_path / "demo-home"
    before = _run_value()
    app = App(resolve_paths(home=home), accounts=make_accounts(home, srv), use_tray=False,
              use_notifier=False, single_instance=False, demo=True)  # the real platform
    _KEEP.append(app)
    try:
        app.start()
        entry = next(e for e in app.menu_entries() if e.label.startswith("Start with"))
        assert entry.enabled is not None and not entry.enabled()
        assert entry.checked is not None and not entry.checked()
        assert entry.action is not None
        entry.action()
        app.accounts.apply(Settings(app.accounts.settings.accounts, start_with_system=True))
        app._settings_saved()
        menu = app.popup_menu(10, 10, post=False)  # posted, it is modal on Windows
        idx = next(i for i in range(menu.index("end") + 1)
                   if menu.type(i) == "checkbutton")
        assert menu.entrycget(idx, "state") == "disabled"
    finally:
        app.shutdown()
    assert _run_value() == before
    assert not (tmp_path / "config" / "autostart").exists()


def test_autostart_written_by_the_app_starts_without_a_console(
        tk_root: tk.Tk, make_devserver: MakeServer, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """The real app's toggle: the registry value (Windows) / the .desktop file
    (Linux) names traymailw or pythonw, never python.exe; toggled back off."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    srv = make_devserver()
    home = tmp_path / "home"
    before = _run_value()
    app = App(resolve_paths(home=home), accounts=make_accounts(home, srv), use_tray=False,
              use_notifier=False, single_instance=False)
    _KEEP.append(app)
    try:
        app.start()
        was = app.platform.autostart_enabled()
        if was:
            app.toggle_autostart()
        app.toggle_autostart()
        assert app.platform.autostart_enabled()
        if WINDOWS:
            written = str(_run_value())
        else:
            written = (tmp_path / "config" / "autostart" / "traymail.desktop").read_text()
        assert "traymailw" in written or "pythonw" in written, written
        assert "python.exe" not in written.lower()
        assert f"--home {home}" in written or f'--home "{home}"' in written
        app.toggle_autostart()
        assert not app.platform.autostart_enabled()
    finally:
        if WINDOWS and before is not None:
            ps.RealWinApi().reg_set_string(ps.RUN_KEY, ps.VALUE_NAME, str(before))
        app.shutdown()


# -- d) shell arguments with Windows paths ------------------------------------------------

def test_split_args_keeps_windows_paths() -> None:
    assert split_args(r"1 C:\Users\me\m1.eml", windows=True) == ["1", r"C:\Users\me\m1.eml"]
    assert split_args(r'1 "C:\My Mail\m1.eml"', windows=True) == ["1", r"C:\My Mail\m1.eml"]
    assert split_args(r"host 995 --ssl --cafile C:\certs\ca.pem", windows=True) == \
        ["host", "995", "--ssl", "--cafile", r"C:\certs\ca.pem"]
    assert split_args(r"--cafile 'C:\a b\ca.pem' x", windows=True) == \
        ["--cafile", r"C:\a b\ca.pem", "x"]
    assert split_args('1 ""', windows=True) == ["1", ""]
    assert split_args(r"\\server\share\m.eml", windows=True) == [r"\\server\share\m.eml"]
    with pytest.raises(ValueError, match="No closing quotation"):
        split_args(r'1 "C:\x', windows=True)
    # POSIX keeps shell rules: a backslash escapes
    assert split_args(r"1 my\ mail.eml", windows=False) == ["1", "my mail.eml"]
    assert split_args(r"1 C:\Users\me\m1.eml", windows=False) == ["1", "C:Usersmem1.eml"]


def run_shell(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "traymail", "shell"], input=script,
                          capture_output=True, text=True, timeout=60)


def test_shell_retr_and_cafile_paths(tmp_path: Path) -> None:
    """The real shell process: retr into a folder with a space (backslashes
    on Windows), and --cafile reaching the TLS layer intact."""
    box = MemoryMailbox([sample_message(0)])
    folder = tmp_path / "My Mail"
    folder.mkdir()
    target = folder / "m1.eml"
    not_a_cert = tmp_path / "ca.pem"
    not_a_cert.write_text("this is not a certificate\n")
    with DevServer(box, {"me": "pw"}) as srv:
        proc = run_shell(f'connect 127.0.0.1 {srv.port}\nuser me\npass\npw\n'
                         f'retr 1 "{target}"\nretr 1 {tmp_path / "m2.eml"}\nclose\n'
                         f'connect 127.0.0.1 {srv.port} --ssl --cafile {not_a_cert}\n')
    assert f"written to {target}" in proc.stdout, proc.stdout + proc.stderr
    assert target.read_bytes() == box.snapshot()[0].data
    assert [p.name for p in folder.iterdir()] == ["m1.eml"]
    assert (tmp_path / "m2.eml").read_bytes() == target.read_bytes()  # unquoted path
    # the file was found and read by OpenSSL (a mangled path: "No such file")
    assert "No such file" not in proc.stdout
    assert "no certificate or crl found" in proc.stdout.lower(), proc.stdout
