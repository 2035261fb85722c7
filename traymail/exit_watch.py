"""Quit always ends the app: a watchdog armed when the app starts to shut down.

If shutting down and leaving the process take longer than ``grace`` seconds
(a thread stuck in a system call, an exit handler that waits forever), the
watchdog writes every thread's stack to traymail's log folder -- the evidence
for a bug report -- and ends the process with status 3. Only the real app's
process arms it (``App.run``), never a process that hosts apps in tests.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["arm", "EXIT_STATUS", "HANG_LOG"]

EXIT_STATUS = 3
HANG_LOG = "traymail-exit-hang.log"


def arm(log_dir: Path, grace: float = 30.0) -> threading.Thread:
    """Start the watchdog (a daemon thread: a normal exit simply ends it)."""
    started = time.monotonic()

    def watch() -> None:
        time.sleep(grace)
        report(log_dir, time.monotonic() - started)
        os._exit(EXIT_STATUS)

    t = threading.Thread(target=watch, name="traymail-exit-watch", daemon=True)
    t.start()
    return t


def report(log_dir: Path, waited: float) -> Path | None:
    """Every thread's stack into ``HANG_LOG`` (the log folder, or the temp
    folder when that is gone, e.g. the demo's removed home), and to stderr."""
    text = f"traymail: quitting took more than {waited:.0f} s; ending the process. Threads:\n"
    for folder in (log_dir, Path(tempfile.gettempdir())):
        try:
            if not folder.is_dir():
                continue
            fd = os.open(folder / HANG_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND
                         | getattr(os, "O_NOFOLLOW", 0), 0o600)
            if hasattr(os, "getuid") and os.fstat(fd).st_uid != os.getuid():
                os.close(fd)  # another user's file in a shared temp folder: not ours
                continue
            with open(fd, "w", encoding="utf-8") as f:
                f.write(time.strftime("%Y-%m-%d %H:%M:%S ") + text)
                f.flush()
                faulthandler.dump_traceback(f, all_threads=True)
        except (OSError, ValueError):
            continue
        _to_stderr(text)
        return folder / HANG_LOG
    _to_stderr(text)
    return None


def _to_stderr(text: str) -> None:
    """Also on stderr when there is one with a file descriptor (not pythonw)."""
    try:
        if sys.stderr is not None:
            sys.stderr.write(text)
            sys.stderr.flush()
            faulthandler.dump_traceback(sys.stderr, all_threads=True)
    except (OSError, ValueError):  # no fileno (a captured stream)
        pass
