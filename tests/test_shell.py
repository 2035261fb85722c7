"""``traymail shell`` driven through a pipe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from traymail.devserver import DevServer, MemoryMailbox
from traymail.samples import sample_messages

from .realservers import DovecotAccount


def run_shell(script: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "traymail", "shell"],
        input=script, capture_output=True, text=True, timeout=timeout,
    )


def test_shell_against_devserver(tmp_path: Path) -> None:
    box = MemoryMailbox(sample_messages(3))
    with DevServer(box, {"me": "pw-7788"}) as srv:
        out = tmp_path / "m1.eml"
        proc = run_shell(
            f"connect 127.0.0.1 {srv.port}\nlog on\nuser me\npass\npw-7788\n"
            f"stat\nlist\nuidl 2\ntop 1 0\nretr 1 {out}\ndele 3\nrset\nnoop\nquit\n"
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 messages" in proc.stdout
    assert "2 mem-000002" in proc.stdout
    assert "Subject: Lunch on Friday?" in proc.stdout
    assert out.read_bytes() == box.snapshot()[0].data
    assert "pw-7788" not in proc.stdout + proc.stderr
    assert "PASS ********" in proc.stdout  # the live transcript, masked
    assert len(box.snapshot()) == 3


def test_shell_errors_are_one_line(tmp_path: Path) -> None:
    with DevServer(MemoryMailbox(sample_messages(1)), {"me": "pw"}) as srv:
        proc = run_shell(f"stat\nconnect 127.0.0.1 {srv.port}\nuser me\npass\nwrong\n"
                         "retr x y\nbogus\nquit\n")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "error: not connected" in proc.stdout
    assert "error: PASS failed: -ERR [AUTH]" in proc.stdout
    assert "error: message number expected" in proc.stdout
    assert "unknown command 'bogus'" in proc.stdout


@pytest.mark.dovecot
def test_shell_against_dovecot(dovecot_account: DovecotAccount, tmp_path: Path) -> None:
    dovecot_account.add(b"Subject: hello dovecot\n\nbody\n")
    dovecot_account.add(b"Subject: second\n\nbody 2\n")
    out = tmp_path / "x.eml"
    proc = run_shell(
        f"connect 127.0.0.1 {dovecot_account.server.port} --starttls "
        f"--cafile {dovecot_account.server.cert.cert}\n"
        f"capa\nuser {dovecot_account.user}\npass\n{dovecot_account.password}\n"
        f"stat\nuidl\ntop 1 0\nretr 2 {out}\ndele 1\nquit\n"
    )
    assert proc.returncode == 0, proc.stdout
    assert "TLS active" in proc.stdout
    assert "2 messages" in proc.stdout
    assert "Subject: hello dovecot" in proc.stdout
    assert out.read_bytes() == b"Subject: second\r\n\r\nbody 2\r\n"
    assert dovecot_account.password not in proc.stdout + proc.stderr
    assert len(dovecot_account.files()) == 1
