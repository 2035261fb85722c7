"""Quit always ends the app (traymail/exit_watch.py): a process whose exit
hangs is ended by the watchdog, with every thread's stack in the log folder."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from traymail import exit_watch

from .realservers import require_real

HANGS = textwrap.dedent("""
    import sys, threading
    from pathlib import Path
    from traymail import exit_watch

    def stuck_in_an_exit_handler():
        threading.Event().wait()  # a non-daemon thread: the interpreter waits for it

    threading.Thread(target=stuck_in_an_exit_handler, name="stuck").start()
    exit_watch.arm(Path(sys.argv[1]), grace=float(sys.argv[2]))
    print("armed", flush=True)
""")

ENDS = textwrap.dedent("""
    import sys
    from pathlib import Path
    from traymail import exit_watch

    exit_watch.arm(Path(sys.argv[1]), grace=30)
    print("bye", flush=True)
""")


def run(code: str, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    t = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         timeout=60, cwd=Path(__file__).resolve().parent.parent)
    return out, time.monotonic() - t


def test_a_hanging_exit_is_ended_with_the_stacks_in_the_log(tmp_path: Path) -> None:
    out, took = run(HANGS, str(tmp_path), "1.5")
    assert out.returncode == exit_watch.EXIT_STATUS, out
    assert 1.5 <= took < 30
    log = (tmp_path / exit_watch.HANG_LOG).read_text(encoding="utf-8")
    assert "quitting took more than 2 s" in log or "quitting took more than 1 s" in log
    assert "stuck_in_an_exit_handler" in log  # the evidence: where it hung
    assert "stuck_in_an_exit_handler" in out.stderr
    if sys.platform != "win32":
        assert (tmp_path / exit_watch.HANG_LOG).stat().st_mode & 0o777 == 0o600


def test_a_normal_exit_is_not_delayed_and_writes_nothing(tmp_path: Path) -> None:
    out, took = run(ENDS, str(tmp_path))
    assert out.returncode == 0 and out.stdout == "bye\n", out
    assert took < 20  # not the 30 s grace
    assert not (tmp_path / exit_watch.HANG_LOG).exists()


def test_a_missing_log_folder_falls_back_to_the_temp_folder(tmp_path: Path,
                                                           monkeypatch: object) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))  # type: ignore[attr-defined]
    where = exit_watch.report(tmp_path / "removed-demo-home" / "logs", 31.0)
    assert where == tmp_path / exit_watch.HANG_LOG
    text = where.read_text(encoding="utf-8")
    assert "more than 31 s" in text and "test_a_missing_log_folder" in text


@pytest.mark.posix_only("file owners as POSIX uids; Windows' temp folder is per user")
def test_another_users_file_in_the_temp_folder_gets_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import pwd
    import tempfile

    if os.geteuid() != 0:
        require_real("a second uid", "this test runs as root (CI does) to plant "
                     "another user's file")
    planted = tmp_path / exit_watch.HANG_LOG
    planted.write_text("")
    os.chmod(planted, 0o666)
    nobody = pwd.getpwnam("nobody")
    os.chown(planted, nobody.pw_uid, nobody.pw_gid)  # planted in the shared folder
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    assert exit_watch.report(tmp_path / "gone", 31.0) is None
    assert planted.read_text() == ""
