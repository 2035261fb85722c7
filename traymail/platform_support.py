"""Platform services behind one small interface: start with the system,
DPI awareness, the toast app id, opening a file or its folder. Windows code
talks to the registry and user32/shcore through :class:`WinApi`, which tests
replace with a fake; :func:`open_file` and :func:`show_in_folder` make the
real calls (``os.startfile``, Explorer; ``xdg-open`` elsewhere)."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Protocol

from .i18n import _

__all__ = ["PlatformSupport", "WindowsSupport", "LinuxSupport", "WinApi", "platform_support",
           "RUN_KEY", "APPROVED_KEY", "APP_ID", "OpenFailed", "open_file", "show_in_folder",
           "autostart_command", "windows_ui_language"]

log = logging.getLogger("traymail.platform")
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
VALUE_NAME = "traymail"
APP_ID = "traymail"  # desktop-notifier registers its WinRT AUMID under the app name


class PlatformSupport(Protocol):
    def autostart_enabled(self) -> bool: ...
    def set_autostart(self, enabled: bool, command: list[str]) -> None: ...
    def enable_dpi_awareness(self) -> None: ...
    def register_app_id(self) -> None: ...


class WinApi(Protocol):
    """The few Windows calls traymail makes (HKCU registry, DPI)."""

    def reg_get(self, key: str, name: str) -> object | None: ...
    def reg_set_string(self, key: str, name: str, value: str) -> None: ...
    def reg_delete(self, key: str, name: str) -> None: ...
    def set_dpi_awareness(self) -> bool: ...
    def set_app_id(self, app_id: str) -> bool: ...
    def user_sid(self) -> str | None: ...
    def pipe_peer_sid(self, handle: int, peer_is_server: bool) -> str | None: ...


class RealWinApi:  # pragma: no cover - runs only on Windows
    def reg_get(self, key: str, name: str) -> object | None:
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as k:
                return winreg.QueryValueEx(k, name)[0]
        except FileNotFoundError:
            return None

    def reg_set_string(self, key: str, name: str, value: str) -> None:
        import winreg

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, key) as k:
            winreg.SetValueEx(k, name, 0, winreg.REG_SZ, value)

    def reg_delete(self, key: str, name: str) -> None:
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_SET_VALUE) as k:
                winreg.DeleteValue(k, name)
        except FileNotFoundError:
            pass

    def set_dpi_awareness(self) -> bool:
        import ctypes

        try:
            return ctypes.windll.shcore.SetProcessDpiAwareness(1) == 0  # type: ignore[no-any-return,attr-defined]
        except (AttributeError, OSError):
            try:
                return bool(ctypes.windll.user32.SetProcessDPIAware())  # type: ignore[attr-defined]
            except (AttributeError, OSError):
                return False

    def set_app_id(self, app_id: str) -> bool:
        import ctypes

        try:
            shell32 = ctypes.windll.shell32  # type: ignore[attr-defined]
            return shell32.SetCurrentProcessExplicitAppUserModelID(app_id) == 0  # type: ignore[no-any-return]
        except (AttributeError, OSError):
            return False

    # -- who is at the other end of a named pipe (traymail.instance) ---------------
    def user_sid(self) -> str | None:
        """This process's user SID, e.g. ``S-1-5-21-...-1001``."""
        return _process_sid(None)

    def pipe_peer_sid(self, handle: int, peer_is_server: bool) -> str | None:
        """The user SID of the process at the other end of a connected pipe:
        GetNamedPipeServerProcessId (we are the client) or ...ClientProcessId
        (we are the server), then that process's token. None when it cannot
        be told (e.g. a process of another user that we may not open)."""
        import ctypes
        from ctypes import wintypes

        k32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        fn = (k32.GetNamedPipeServerProcessId if peer_is_server
              else k32.GetNamedPipeClientProcessId)
        fn.argtypes = (wintypes.HANDLE, ctypes.POINTER(wintypes.ULONG))
        fn.restype = wintypes.BOOL
        pid = wintypes.ULONG()
        if not fn(handle, ctypes.byref(pid)) or not pid.value:
            return None
        return _process_sid(pid.value)


class WindowsSupport:
    """HKCU Run key (+ StartupApproved, which Task Manager's switch writes)."""

    def __init__(self, api: WinApi | None = None) -> None:
        self.api = api or RealWinApi()

    def autostart_enabled(self) -> bool:
        if not self.api.reg_get(RUN_KEY, VALUE_NAME):
            return False
        approved = self.api.reg_get(APPROVED_KEY, VALUE_NAME)
        # StartupApproved: a REG_BINARY whose first byte is even when enabled
        # (02/06) and odd when the user disabled it in Task Manager (03/07).
        if isinstance(approved, (bytes, bytearray)) and approved:
            return approved[0] % 2 == 0
        return True

    def set_autostart(self, enabled: bool, command: list[str]) -> None:
        if enabled:
            self.api.reg_set_string(RUN_KEY, VALUE_NAME, _windows_command(command))
            self.api.reg_delete(APPROVED_KEY, VALUE_NAME)  # re-enable a Task Manager "off"
        else:
            self.api.reg_delete(RUN_KEY, VALUE_NAME)

    def enable_dpi_awareness(self) -> None:
        if not self.api.set_dpi_awareness():
            log.debug("could not set DPI awareness")

    def register_app_id(self) -> None:
        """Our own AUMID, so toasts and the taskbar show "traymail", not Python.
        desktop-notifier writes the HKCU AppUserModelId key under the same id."""
        if not self.api.set_app_id(APP_ID):
            log.debug("could not set the AppUserModelID")


def _process_sid(pid: int | None) -> str | None:  # pragma: no cover - Windows only
    """The user SID of process ``pid`` (None: this process), via its token."""
    import ctypes
    from ctypes import wintypes

    k32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    adv = ctypes.WinDLL("advapi32", use_last_error=True)  # type: ignore[attr-defined]
    k32.GetCurrentProcess.restype = wintypes.HANDLE
    k32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    k32.OpenProcess.restype = wintypes.HANDLE
    k32.CloseHandle.argtypes = (wintypes.HANDLE,)
    k32.LocalFree.argtypes = (ctypes.c_void_p,)
    k32.LocalFree.restype = ctypes.c_void_p
    adv.OpenProcessToken.argtypes = (wintypes.HANDLE, wintypes.DWORD,
                                     ctypes.POINTER(wintypes.HANDLE))
    adv.OpenProcessToken.restype = wintypes.BOOL
    adv.GetTokenInformation.argtypes = (wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p,
                                        wintypes.DWORD, ctypes.POINTER(wintypes.DWORD))
    adv.GetTokenInformation.restype = wintypes.BOOL
    adv.ConvertSidToStringSidW.argtypes = (ctypes.c_void_p, ctypes.POINTER(wintypes.LPWSTR))
    adv.ConvertSidToStringSidW.restype = wintypes.BOOL
    process_query_limited_information, token_query, token_user = 0x1000, 0x0008, 1

    process = (k32.GetCurrentProcess() if pid is None
               else k32.OpenProcess(process_query_limited_information, False, pid))
    if not process:
        return None
    try:
        token = wintypes.HANDLE()
        if not adv.OpenProcessToken(process, token_query, ctypes.byref(token)):
            return None
        try:
            size = wintypes.DWORD()
            adv.GetTokenInformation(token, token_user, None, 0, ctypes.byref(size))
            buf = ctypes.create_string_buffer(size.value)
            if not size.value or not adv.GetTokenInformation(
                    token, token_user, buf, size, ctypes.byref(size)):
                return None
            # TOKEN_USER starts with SID_AND_ATTRIBUTES, which starts with PSID
            sid = ctypes.cast(buf, ctypes.POINTER(ctypes.c_void_p))[0]
            text = wintypes.LPWSTR()
            if not adv.ConvertSidToStringSidW(sid, ctypes.byref(text)):
                return None
            try:
                return text.value
            finally:
                k32.LocalFree(ctypes.cast(text, ctypes.c_void_p))
        finally:
            k32.CloseHandle(token)
    finally:
        if pid is not None:
            k32.CloseHandle(process)


def _windows_command(command: list[str]) -> str:
    return " ".join(f'"{c}"' if (" " in c or not c) else c for c in command)


class LinuxSupport:
    """XDG autostart: ~/.config/autostart/traymail.desktop."""

    def __init__(self, config_home: Path | None = None) -> None:
        base = config_home or Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        self.desktop_file = base / "autostart" / "traymail.desktop"

    def autostart_enabled(self) -> bool:
        try:
            text = self.desktop_file.read_text(encoding="utf-8")
        except OSError:
            return False
        return "Hidden=true" not in text and "X-GNOME-Autostart-enabled=false" not in text

    def set_autostart(self, enabled: bool, command: list[str]) -> None:
        if not enabled:
            self.desktop_file.unlink(missing_ok=True)
            return
        self.desktop_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.desktop_file.with_suffix(".tmp")
        tmp.write_text(
            "[Desktop Entry]\nType=Application\nName=traymail\n"
            "Comment=POP3 mail notifier\n"
            f"Exec={shlex.join(command)}\nIcon=mail-unread\nTerminal=false\n"
            "X-GNOME-Autostart-enabled=true\n", encoding="utf-8")
        os.replace(tmp, self.desktop_file)

    def enable_dpi_awareness(self) -> None:
        pass

    def register_app_id(self) -> None:
        pass


def platform_support() -> PlatformSupport:
    if sys.platform == "win32":  # pragma: no cover
        return WindowsSupport()
    return LinuxSupport()


# -- opening files -------------------------------------------------------------------

class OpenFailed(Exception):
    """The system could not open ``path``: no program for its type, no opener."""

    def __init__(self, path: Path, message: str, detail: str = "") -> None:
        self.path = path
        self.detail = detail
        super().__init__(message)


#: how long xdg-open gets to report a failure; it may then keep running (some
#: of its fallbacks wait for the program they started)
XDG_OPEN_WAIT = 3.0


def _no_program(path: Path, detail: str) -> OpenFailed:
    if path.suffix:
        return OpenFailed(path, _("No program opens {suffix} files").format(suffix=path.suffix),
                          detail)
    return OpenFailed(path, _("No program opens this file"), detail)


def _xdg_open(target: Path, path: Path) -> None:
    try:
        proc = subprocess.Popen(["xdg-open", str(target)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as exc:
        raise _no_program(path, f"xdg-open: {exc.strerror or exc}") from None
    try:
        code = proc.wait(XDG_OPEN_WAIT)
    except subprocess.TimeoutExpired:  # a program runs; reap xdg-open when it ends
        threading.Thread(target=proc.wait, name="traymail-xdg-open", daemon=True).start()
        return
    if code != 0:  # xdg-open(1): 3 = no method available, 4 = the action failed
        raise _no_program(path, f"xdg-open exit status {code}")


def open_file(path: Path) -> None:
    """Open ``path`` with the program the system associates with its type.

    Raises :class:`OpenFailed` (message: "No program opens .eml files") when
    none does: ``os.startfile`` fails (ERROR_NO_ASSOCIATION 1155 on Windows,
    193 under Wine) or ``xdg-open`` is missing or reports failure. Blocks up to
    :data:`XDG_OPEN_WAIT` seconds on Linux: call it off the UI thread."""
    if not path.exists():
        raise OpenFailed(path, _("{name} is gone from {folder}").format(name=path.name,
                                                                       folder=path.parent))
    if sys.platform == "win32":
        try:
            os.startfile(path)  # type: ignore[attr-defined,unused-ignore]
        except OSError as exc:
            raise _no_program(path, str(exc)) from None
    elif sys.platform == "darwin":  # pragma: no cover
        if subprocess.run(["open", str(path)], capture_output=True).returncode != 0:
            raise _no_program(path, "open failed")
    else:
        _xdg_open(path, path)


def show_in_folder(path: Path) -> None:
    """Show the folder holding ``path`` (Explorer with the file selected on
    Windows; the folder through xdg-open elsewhere). Raises :class:`OpenFailed`."""
    if sys.platform == "win32":
        # explorer parses its own command line: /select,"C:\a b\m.eml" (no outer quotes)
        try:
            subprocess.Popen(f'explorer /select,"{path}"')  # exit status means nothing
        except OSError as exc:
            raise OpenFailed(path, _("Explorer did not start: {error}").format(error=exc)) from None
    else:
        try:
            _xdg_open(path.parent, path.parent)
        except OpenFailed as exc:
            raise OpenFailed(path, _("Cannot show the folder {folder}").format(folder=path.parent),
                             exc.detail) from None


# -- autostart command -----------------------------------------------------------------

def autostart_command(executable: str, *, platform: str = sys.platform, frozen: bool = False,
                      exists: Callable[[str], bool] = os.path.exists,
                      which: Callable[[str], str | None] | None = None) -> list[str]:
    """What "Start with Windows / the system" runs: never a console window.

    Frozen (an installed ``traymail.exe``): the executable itself. Otherwise
    the ``traymailw`` launcher beside the interpreter (venv ``Scripts``/``bin``
    or the install's ``Scripts``), then one on PATH, then on Windows
    ``pythonw.exe -m traymail`` (the windowless sibling of ``python.exe``)."""
    if frozen:
        return [executable]
    win = platform == "win32"
    exe: PurePath = PureWindowsPath(executable) if win else PurePosixPath(executable)
    launcher = "traymailw.exe" if win else "traymailw"
    for folder in (exe.parent, exe.parent / "Scripts"):
        if exists(str(folder / launcher)):
            return [str(folder / launcher)]
    if which is None:
        import shutil  # with bz2 and lzma: not kept by an idle app for this

        which = shutil.which
    found = which("traymailw")
    if found:
        return [found]
    if win:
        if not exe.name.lower().startswith("pythonw"):
            exe = exe.with_name("pythonw.exe")
        return [str(exe), "-m", "traymail"]
    return [executable, "-m", "traymail"]


# -- the user's UI language ------------------------------------------------------------

def windows_ui_language() -> int | None:
    """The user's Windows UI language as a LANGID (``GetUserDefaultUILanguage``,
    e.g. 0x0419 for Russian); None elsewhere or when the call fails.
    :func:`traymail.i18n.language_from_langid` maps it to a language code."""
    if sys.platform != "win32":
        return None
    import ctypes  # pragma: no cover - Windows only (the Windows lane runs it)

    try:  # pragma: no cover
        langid = int(ctypes.windll.kernel32.GetUserDefaultUILanguage())  # type: ignore[attr-defined]
    except (AttributeError, OSError):  # pragma: no cover
        return None
    return langid or None  # pragma: no cover


def windows_play_wav(path: Path) -> None:  # pragma: no cover - runs only on Windows
    """Play a WAV without waiting (winsound, SND_FILENAME | SND_ASYNC)."""
    import winsound  # type: ignore[import-not-found,unused-ignore]

    flags = winsound.SND_FILENAME | winsound.SND_ASYNC | winsound.SND_NODEFAULT
    winsound.PlaySound(str(path), flags)
