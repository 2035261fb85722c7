"""The traymail command against a real Dovecot, with passwords in a real keyring."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .realservers import DovecotAccount

pytestmark = pytest.mark.dovecot


def traymail(env: dict[str, str], home: Path, *args: str, stdin: str = "",
             check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "traymail", "--home", str(home), *args],
                          input=stdin, capture_output=True, text=True, env=env, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"traymail {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_settings(home: Path, account: DovecotAccount, **extra: object) -> None:
    home.mkdir(parents=True, exist_ok=True)
    acc = {"name": "dove", "host": "127.0.0.1", "username": account.user,
           "security": "ssl", "port": account.server.ssl_port,
           "cafile": str(account.server.cert.cert), **extra}
    (home / "settings.json").write_text(json.dumps({"schema_version": 1, "accounts": [acc]}))


def fill(account: DovecotAccount, n: int) -> None:
    for i in range(n):
        account.add(f"From: S{i} <s{i}@example.org>\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe_{i}?=\n"
                    f"Date: Mon, 2 Nov 2026 10:{i:02d}:00 +0000\n\nbody {i}\n".encode())


def test_cli_end_to_end(dovecot_account: DovecotAccount, secret_service: dict[str, str],
                        tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_settings(home, dovecot_account)
    fill(dovecot_account, 5)
    env = secret_service
    out = traymail(env, home, "check", "--json", check=False)
    assert out.returncode == 1 and "no password is stored" in out.stdout
    traymail(env, home, "set-password", stdin=dovecot_account.password + "\n")
    assert "password" not in (home / "settings.json").read_text()

    data = json.loads(traymail(env, home, "check", "--json").stdout)
    entry = data["accounts"][0]
    assert entry["total_count"] == 5 and entry["new_count"] == 5
    assert len(entry["newly_arrived"]) == 5 and entry["state"] == "ok"
    assert entry["total_size"] == sum(len(p.read_bytes().replace(b"\n", b"\r\n"))
                                      for p in dovecot_account.files())
    again = json.loads(traymail(env, home, "check", "--json").stdout)["accounts"][0]
    assert again["newly_arrived"] == []

    heads = json.loads(traymail(env, home, "headers", "--json").stdout)
    assert [h["subject"] for h in heads] == [f"Grüße {i}" for i in range(5)]
    assert set(heads[0]) == {"uid", "number", "size", "from", "subject", "date", "new", "marked",
                            "rule"}

    files = traymail(env, home, "fetch", heads[0]["uid"]).stdout.split("\n")[0]
    assert Path(files).read_bytes() == dovecot_account.files()[0].read_bytes().replace(
        b"\n", b"\r\n")
    new = json.loads(traymail(env, home, "headers", "--new", "--json").stdout)
    assert len(new) == 4

    refused = traymail(env, home, "delete", heads[1]["uid"], check=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    out = traymail(env, home, "delete", heads[1]["uid"], heads[3]["uid"], "--yes").stdout
    assert out.count("deleted ") == 2
    assert len(dovecot_account.files()) == 3
    left = json.loads(traymail(env, home, "headers", "--json").stdout)
    assert [h["uid"] for h in left] == [heads[i]["uid"] for i in (0, 2, 4)]

    accounts = traymail(env, home, "accounts").stdout
    assert "dove:" in accounts and "ssl" in accounts

    # the password is in no file and in no output
    secret = dovecot_account.password
    for p in home.rglob("*"):
        if p.is_file():
            assert secret.encode() not in p.read_bytes(), p


def test_cli_wrong_password_and_bad_settings(dovecot_account: DovecotAccount,
                                             secret_service: dict[str, str],
                                             tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_settings(home, dovecot_account)
    traymail(secret_service, home, "set-password", stdin="definitely-wrong\n")
    out = traymail(secret_service, home, "check", check=False)
    assert out.returncode == 1 and "login to 127.0.0.1 failed" in out.stdout
    assert "definitely-wrong" not in out.stdout + out.stderr
    (home / "settings.json").write_text('{"accounts": [{"name": "x"}]}')
    bad = traymail(secret_service, home, "check", check=False)
    assert bad.returncode == 2 and "accounts[0].host: is required" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_no_keyring_is_a_clear_error(dovecot_account: DovecotAccount, tmp_path: Path) -> None:
    import os

    home = tmp_path / "home"
    write_settings(home, dovecot_account)
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env["HOME"] = str(tmp_path)
    env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={tmp_path}/no-bus"
    out = traymail(env, home, "set-password", stdin="x\n", check=False)
    assert out.returncode == 1 and "no secure keyring" in out.stderr
    assert "TRAYMAIL_PASSWORD_IN_MEMORY" in out.stderr
