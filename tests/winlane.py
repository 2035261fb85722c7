"""Windows CPython under Wine: how the Windows lane starts a Windows process.

The lane folder (``.wine-lane/``, made by scripts/wine_lane.py) holds the
Windows Python (``python/``), the Windows wheels unpacked (``site/``), a copy
of the checkout (``src/``) and a Wine prefix (``prefix/``) whose only drive
besides ``C:`` is ``T:`` = the lane folder: Wine's ``Z:`` (the Linux root) is
removed, so Windows code sees no Linux programs, as on real Windows.

Three Wine 8 workarounds live here (see the README's "Windows lane"):
``sitecustomize`` hides ``_wmi`` (CPython 3.13's ``platform`` asks WMI, Wine
aborts and winedbg would wait forever), ``winedbg.exe=d`` turns any other
crash into an exit, and the std handles are always pipes or /dev/null
(a regular file as stdout makes CPython abort in ``init_sys_streams``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path, PureWindowsPath

DRIVE = "T:"
WINEDLLOVERRIDES = "mscoree,mshtml=;winedbg.exe=d"


class WineLane:
    def __init__(self, root: Path, display: str | None = None) -> None:
        self.root = root.resolve()
        self.prefix = self.root / "prefix"
        self.python_dir = self.root / "python"
        self.display = display if display is not None else os.environ.get("DISPLAY", "")

    @classmethod
    def from_env(cls) -> WineLane:
        return cls(Path(os.environ["TRAYMAIL_WINE_LANE"]))

    def win(self, path: Path) -> str:
        """The Windows name (T:\\...) of a path inside the lane folder."""
        rel = path.resolve().relative_to(self.root)
        return str(PureWindowsPath(DRIVE + "\\", *rel.parts))

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "PYTHON", "TRAYMAIL_", "VIRTUAL_ENV"))}
        env.update(
            WINEPREFIX=str(self.prefix), WINEDEBUG="-all", WINEDLLOVERRIDES=WINEDLLOVERRIDES,
            PYTHONPATH=f"{DRIVE}\\site;{DRIVE}\\src", PYTHONUTF8="1",
            PYTHONIOENCODING="utf-8", DISPLAY=self.display,
            TRAYMAIL_TEST_CERTS=f"{DRIVE}\\certs",
        )
        env.update(extra)
        return env

    def argv(self, *args: str, gui: bool = False) -> list[str]:
        exe = "pythonw.exe" if gui else "python.exe"
        return [shutil.which("wine") or "wine", str(self.python_dir / exe), *args]

    def popen(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
              **kw: object) -> subprocess.Popen[str]:
        """A Windows Python process; stdout/stderr are pipes (never regular files)."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            self.argv(*args), env=env or self.env(), cwd=cwd or self.root / "src",
            text=True, encoding="utf-8", errors="replace", start_new_session=True, **kw)

    def python(self, *args: str, stdin: str | None = None, timeout: float = 120,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run Windows Python to its end; stdout and stderr captured apart."""
        return subprocess.run(
            self.argv(*args), env=env or self.env(), cwd=self.root / "src",
            input=stdin if stdin is not None else "", capture_output=True, text=True,
            encoding="utf-8", errors="replace", timeout=timeout)

    def wine(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A Wine tool (reg, ...) in the lane's prefix."""
        return subprocess.run([shutil.which("wine") or "wine", *args], env=self.env(),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              encoding="utf-8", errors="replace", timeout=timeout)

    def reg_query(self, key: str, name: str) -> str | None:
        """A registry value as Wine's ``reg query`` prints it, or None."""
        out = self.wine("reg", "query", key, "/v", name)
        if out.returncode != 0:
            return None
        for line in out.stdout.splitlines():
            parts = line.strip().split(None, 2)
            if len(parts) == 3 and parts[0] == name:
                return parts[2]
        return None

    def stop_wineserver(self) -> None:
        subprocess.run([shutil.which("wineserver") or "wineserver", "-k"], env=self.env(),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
