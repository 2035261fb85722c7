"""Secrets audit: a full session set -- login, check, headers, download,
delete, a wrong password, the log window, the shell with `log on`, a crash --
then every file under the config, data and log dirs, every captured output and
every transcript buffer is searched for the password and its base64 form."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from traymail.accounts import Accounts
from traymail.app import App
from traymail.devserver import DevServer, Faults, MemoryMailbox
from traymail.platform_support import LinuxSupport
from traymail.samples import sample_messages
from traymail.settings import resolve_paths
from traymail.ui.log_window import LogWindow

from .uitools import pump

SECRET = "Tr4y-S3cret-Pa55!"


def run(env: dict[str, str], home: Path, *args: str, stdin: str = "") -> str:
    p = subprocess.run([sys.executable, "-m", "traymail", "--home", str(home), *args],
                       input=stdin, capture_output=True, text=True, env=env, timeout=60)
    return p.stdout + p.stderr


def test_no_secret_anywhere(x_display: str, secret_service: dict[str, str], tmp_path: Path,
                            caplog: pytest.LogCaptureFixture,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import SecretService

    caplog.set_level(logging.DEBUG)
    home = tmp_path / "home"
    home.mkdir()
    box = MemoryMailbox(sample_messages(6))
    hostile = Faults(raw={"NOOP": f"-ERR you said {SECRET}\r\n".encode()})
    outputs: list[str] = []
    with DevServer(box, {"user": SECRET}, faults=hostile) as srv, \
            DevServer(MemoryMailbox(sample_messages(1)), {"user": "other"}) as wrong:
        (home / "settings.json").write_text(json.dumps({"accounts": [
            {"name": "Main", "host": "127.0.0.1", "username": "user", "port": srv.port,
             "security": "none", "allow_insecure": True},
            {"name": "Wrong", "host": "localhost", "username": "user", "port": wrong.port,
             "security": "none", "allow_insecure": True}]}))
        env = {**secret_service, "DISPLAY": x_display}
        outputs.append(run(env, home, "set-password", stdin=SECRET + "\n"))
        outputs.append(run(env, home, "--account", "Wrong", "set-password",
                           stdin="not-the-right-one\n"))
        outputs.append(run(env, home, "check", "--json"))  # Wrong fails: a wrong password
        heads = json.loads(run(env, home, "headers", "--json").split("\n\n")[0] or "[]")
        outputs.append(run(env, home, "fetch", "--new"))
        outputs.append(run(env, home, "delete", heads[0]["uid"], "--yes"))
        outputs.append(run(env, home, "shell", stdin=(
            f"log on\nconnect 127.0.0.1 {srv.port}\nuser user\npass\n{SECRET}\n"
            "stat\nnoop\nuidl\nquit\n")))
        assert "PASS ********" in outputs[-1] and "you said ********" in outputs[-1]
        outputs.append(run(env, home, "shell", stdin=(
            f"log on\nconnect 127.0.0.1 {srv.port}\nauth plain user\n{SECRET}\nstat\nquit\n")))
        assert "AUTH PLAIN ********" in outputs[-1] and "S: +OK" in outputs[-1]
        # the app in this process, with the real keyring, a log window and a crash
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service["DBUS_SESSION_BUS_ADDRESS"])
        previous = keyring.get_keyring()
        keyring.set_keyring(SecretService.Keyring())
        try:
            paths = resolve_paths(home=home)
            app = App(paths, accounts=Accounts(paths), use_tray=False, use_notifier=False,
                      single_instance=False, platform=LinuxSupport(home / "xdg"))
            _KEEP.append(app)
            app.start()
            try:
                log = LogWindow(app.root, app.bridge, app.accounts)
                assert pump(app.root, lambda: len(app.results) == 1 and "Wrong" in app.errors, 20)
                win = app.show_mailbox()
                assert pump(app.root, lambda: not win.busy and win.tree.get_children(), 20)

                def crash() -> None:
                    password = app.accounts.password(app.accounts.settings.account("Main"))
                    raise RuntimeError(f"crash with a local holding {len(password or '')} chars")

                t = threading.Thread(target=crash, name="traymail-crashy")
                t.start()
                t.join()
                assert pump(app.root, lambda: app.internal_error)
                texts = [log.contents(), *(str(e) for mb in app.accounts.mailboxes(False)
                                          for e in mb.transcript)]
                assert "C: USER user" in texts[0] and "PASS ********" in texts[0]
            finally:
                app.shutdown()
        finally:
            keyring.set_keyring(previous)
    texts += outputs + [caplog.text]
    needles = [SECRET, base64.b64encode(SECRET.encode()).decode(),
               base64.b64encode(f"\0user\0{SECRET}".encode()).decode()]
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "traymail.log" for p in files) and any(p.suffix == ".eml" for p in files)
    hits = [(n, t[max(0, t.find(n) - 300):t.find(n) + 40])
            for n in needles for t in texts if n in t]
    hits += [(n, str(p)) for n in needles for p in files if n.encode() in p.read_bytes()]
    assert hits == [], hits
    assert SECRET not in (home / "settings.json").read_text()
    assert os.environ.get("TRAYMAIL_PASSWORD_IN_MEMORY") != "1"


_KEEP: list[App] = []
