"""``pop3> auth ...`` in ``traymail shell``, driven through a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from traymail.devserver import DevServer, MemoryMailbox
from traymail.samples import sample_messages

from .realservers import DovecotAccount

TOKEN = "ya29.shell-" + "T" * 50


def run_shell(script: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TRAYMAIL_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "traymail", "shell"], input=script,
                          capture_output=True, text=True, timeout=30, env=env)


def test_auth_plain_asks_for_the_password(tmp_path: Path) -> None:
    with DevServer(MemoryMailbox(sample_messages(2)), {"me": "pw-5566"}) as srv:
        proc = run_shell(f"connect 127.0.0.1 {srv.port}\nlog on\nauth plain me\npw-5566\n"
                         "stat\nquit\n", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "+OK 2 messages" in proc.stdout and "2 messages," in proc.stdout
    assert "C: AUTH PLAIN ********" in proc.stdout
    assert "pw-5566" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
def test_auth_with_a_token_from_stdin(tmp_path: Path, mechanism: str) -> None:
    with DevServer(MemoryMailbox(sample_messages(1)), tokens={TOKEN: "me@example.org"}) as srv:
        proc = run_shell(f"connect 127.0.0.1 {srv.port}\nlog on\n"
                         f"auth {mechanism} me@example.org --token-stdin\nstale-token\n"
                         f"auth {mechanism} me@example.org --token-stdin\n{TOKEN}\n"
                         "stat\nquit\n", tmp_path)
    out = proc.stdout + proc.stderr
    assert TOKEN not in out and "stale-token" not in out
    assert "error: AUTH failed: -ERR [AUTH] invalid token" in proc.stdout
    assert f"C: AUTH {mechanism.upper()} ********" in proc.stdout
    assert "1 message," in proc.stdout
    assert "failure from the server: status=401" in proc.stdout  # the JSON, summarised
    assert proc.returncode == 1  # one command failed


def test_auth_usage_and_missing_token(tmp_path: Path) -> None:
    with DevServer(MemoryMailbox(), {"me": "pw"}) as srv:
        proc = run_shell(f"connect 127.0.0.1 {srv.port}\nauth\nauth cram-md5 me\n"
                         "auth plain me --token-stdin\nauth xoauth2 me@example.org\nquit\n",
                         tmp_path)
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout.count("error: usage: auth plain|xoauth2|oauthbearer USER") == 2
    assert "--token-stdin is for xoauth2/oauthbearer" in proc.stdout
    # no stored token for that address: says how to give one
    assert "give a token with --token-stdin" in proc.stdout or \
        "give one with --token-stdin" in proc.stdout
    assert not any(c.startswith("AUTH") for c in srv.commands)  # nothing was sent


@pytest.mark.dovecot
def test_shell_auth_plain_against_dovecot(dovecot_account: DovecotAccount,
                                          tmp_path: Path) -> None:
    acc = dovecot_account
    proc = run_shell(f"connect 127.0.0.1 {acc.server.port}\nlog on\nauth plain {acc.user}\n"
                     f"{acc.password}\nstat\nquit\n", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "S: +OK Logged in." in proc.stdout and "C: AUTH PLAIN ********" in proc.stdout
    assert acc.password not in proc.stdout + proc.stderr
