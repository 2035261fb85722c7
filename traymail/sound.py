"""New-mail sound: off by default; per account (``"sound"``) and per rule.

Windows plays through winsound (asynchronously, behind platform_support);
Linux through the first of ``canberra-gtk-play``, ``paplay`` or ``aplay``
found on PATH, started without waiting; with none of them nothing plays and
that is logged once. Pause and quiet hours (``"quiet_hours": "22:00-07:00"``)
silence it. No GUI imports.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["Player", "default_sound", "in_quiet_hours", "PLAYERS"]

log = logging.getLogger("traymail.sound")

#: Linux players, the first found wins (argv before the file)
PLAYERS: tuple[tuple[str, ...], ...] = (("canberra-gtk-play", "-f"), ("paplay",),
                                        ("aplay", "-q"))


def _which(name: str) -> str | None:
    """``shutil.which``, imported when a sound first plays (shutil brings bz2
    and lzma, which an idle app does without)."""
    import shutil

    return shutil.which(name)


def default_sound() -> Path:
    """The chime shipped in traymail/sounds/."""
    from importlib import resources  # 0.6 MiB an app that plays nothing does without

    return Path(str(resources.files("traymail") / "sounds" / "chime.wav"))


def in_quiet_hours(quiet: str | None, now: float | None = None) -> bool:
    """Whether local time ``now`` lies in ``"HH:MM-HH:MM"`` (which may wrap midnight)."""
    if not quiet:
        return False
    start, end = (int(a) * 60 + int(b) for a, b in (p.split(":") for p in quiet.split("-")))
    t = time.localtime(now)
    minute = t.tm_hour * 60 + t.tm_min
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


class Player:
    """Plays one sound at a time; ``played`` records what was started (path, how)."""

    def __init__(self, *, platform: str = sys.platform,
                 which: Callable[[str], str | None] | None = None) -> None:
        self.platform = platform
        self.which = which or _which
        self.played: list[tuple[Path, str]] = []
        self._warned: set[str] = set()
        self._proc: subprocess.Popen[bytes] | None = None

    def resolve(self, sound: str | None) -> Path | None:
        """"default" -> the chime; a path -> itself when it exists (else logged)."""
        if not sound:
            return None
        path = default_sound() if sound == "default" else Path(sound).expanduser()
        if not path.is_file():
            self._once(f"missing:{path}", "the sound file %s does not exist; nothing played",
                       path)
            return None
        return path

    def play(self, sound: str | None, *, paused: bool = False,
             quiet_hours: str | None = None) -> bool:
        """Start playing ``sound`` unless paused or in quiet hours; never waits."""
        if paused or in_quiet_hours(quiet_hours):
            return False
        path = self.resolve(sound)
        if path is None:
            return False
        if self.platform == "win32":  # pragma: no cover - Windows only
            return self._play_windows(path)
        command = self._command()
        if command is None:
            self._once("noplayer", "no sound player (%s) found; new mail is silent",
                       ", ".join(p[0] for p in PLAYERS))
            return False
        if self._proc is not None and self._proc.poll() is None:
            return False  # one at a time: a burst of checks is one chime
        try:
            self._proc = subprocess.Popen([*command, str(path)], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
        except OSError as exc:
            self._once(f"fail:{command[0]}", "cannot start %s: %s", command[0], exc)
            return False
        self.played.append((path, command[0]))
        return True

    def _play_windows(self, path: Path) -> bool:  # pragma: no cover - Windows only
        if sys.platform == "win32":  # behind platform_support (winsound)
            from .platform_support import windows_play_wav

            try:
                windows_play_wav(path)
            except Exception as exc:
                self._once("winsound", "cannot play a sound: %s", exc)
                return False
            self.played.append((path, "winsound"))
            return True
        return False

    def _command(self) -> list[str] | None:
        for argv in PLAYERS:
            found = self.which(argv[0])
            if found:
                return [found, *argv[1:]]
        return None

    def _once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)

    def wait(self, timeout: float = 5.0) -> None:
        """For tests and shutdown: let a started player finish."""
        if self._proc is not None:
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
