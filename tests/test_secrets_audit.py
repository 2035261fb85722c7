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
import time
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
            app = start_app(home)
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


def start_app(home: Path) -> App:
    """The app in this process on ``home`` (no tray, no toasts), kept to the end."""
    paths = resolve_paths(home=home)
    app = App(paths, accounts=Accounts(paths), use_tray=False, use_notifier=False,
              single_instance=False, platform=LinuxSupport(home / "xdg"))
    _KEEP.append(app)
    app.start()
    return app


def _chain(exc: BaseException | None) -> list[str]:
    """The text of an exception and of every cause/context behind it."""
    out: list[str] = []
    while exc is not None and len(out) < 20:
        out.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return out


def test_a_password_echoed_in_capa_and_listings_is_masked_in_any_case(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 12, item 8: notes ("capabilities: ...", upper-cased), server lines,
    the log file, the wire logger and exception texts never show the password."""
    from traymail.mailbox import MailboxError

    from .engine import Engine

    caplog.set_level(logging.DEBUG)
    capa = (f"USER\r\nUIDL\r\nTOP\r\n{SECRET}\r\nX-ECHO {SECRET.lower()}\r\n.\r\n").encode()
    echo = Faults(data={"CAPA": lambda: [capa], "LIST": lambda: [f"1 {SECRET}\r\n.\r\n".encode()]},
                  omit=frozenset({"PIPELINING"}))  # CAPA is read again after login
    shout = Faults(errors={"STAT": f"-ERR [SYS/TEMP] {SECRET.upper()} is wrong"})
    engine = Engine(tmp_path / "home")
    texts: list[str] = []
    for faults in (echo, shout):
        with DevServer(MemoryMailbox(sample_messages(2)), {"user": SECRET},
                       faults=faults) as srv:
            mb = engine.mailbox(srv.port, password=SECRET, name=f"echo{srv.port}")
            with pytest.raises(MailboxError) as info:
                mb.check()
            texts += _chain(info.value) + [str(e) for e in mb.transcript]
    notes = [t for t in texts if t.startswith("*: capabilities:")]
    assert any("TOP ******** X-ECHO" in t for t in notes), notes
    assert any("malformed scan listing" in t for t in texts)
    assert any("[SYS/TEMP] ******** is wrong" in t for t in texts)
    texts.append(caplog.text)
    texts += [p.read_text("utf-8", "replace") for p in engine.files() if p.suffix == ".log"]
    assert any("capabilities:" in t for t in texts[-1:])  # the log file has the session
    needles = {SECRET, SECRET.upper(), SECRET.lower()}
    hits = [(n, t[max(0, t.find(n) - 200):t.find(n) + 40])
            for n in needles for t in texts if n in t]
    assert hits == [], hits


def token_needles(tokens: list[tuple[str, str | None]], user: str) -> list[str]:
    """Every access and refresh token, plain and in the base64 forms a SASL
    exchange would carry (XOAUTH2, OAUTHBEARER, bare)."""
    out: list[str] = []
    for access, refresh in tokens:
        for t in (access, refresh):
            if t:
                out += [t, base64.b64encode(t.encode()).decode()]
        out.append(base64.b64encode(
            f"user={user}\x01auth=Bearer {access}\x01\x01".encode()).decode())
        out.append(base64.b64encode(
            f"n,a={user},\x01auth=Bearer {access}\x01\x01".encode()).decode()[:40])
    return out


def test_no_token_anywhere(oauth_bed: object, x_display: str, secret_service: dict[str, str],
                           tmp_path: Path, caplog: pytest.LogCaptureFixture,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    """OAuth2: sign-in (CLI, loopback), check, headers, fetch, the shell's
    `auth xoauth2` with `log on`, a refresh after expiry, a token the server
    refuses, a revoked sign-in in the app with the log window -- then every
    file, output, transcript and log line is searched for every access and
    refresh token issued, and their base64 forms: 0 hits."""
    import keyring
    from keyring.backends import SecretService

    from traymail.oauth import SERVICE, Tokens

    from .oauthbed import CLIENT_ID, OAuthBed, browser_sign_in

    bed: OAuthBed = oauth_bed  # type: ignore[assignment]
    caplog.set_level(logging.DEBUG)  # urllib3/requests debug lines included
    user = bed.dovecot.new_account()
    user.add(b"From: a@example.com\nSubject: hi\n\nbody\n")
    home = tmp_path / "home"
    home.mkdir()
    account = {"name": "Work", "host": "127.0.0.1", "username": user.user,
               "port": bed.dovecot.ssl_port, "cafile": str(bed.dovecot.cert.cert),
               "auth": "oauth2", "oauth2": {"provider": "custom", "issuer": bed.oidc.issuer,
                                            "client_id": CLIENT_ID, "scopes": ["pop3"]}}
    (home / "settings.json").write_text(json.dumps({"accounts": [account]}))
    env = {**secret_service, "DISPLAY": x_display, "TRAYMAIL_HOME": str(home)}
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service["DBUS_SESSION_BUS_ADDRESS"])
    previous = keyring.get_keyring()
    keyring.set_keyring(SecretService.Keyring())
    issued: list[tuple[str, str | None]] = []
    outputs: list[str] = []
    texts: list[str] = []

    def remember() -> None:
        t = Tokens.from_json(keyring.get_password(SERVICE, f"{user.user}@127.0.0.1:"
                                                  f"{bed.dovecot.ssl_port}") or "")
        if t is not None and (t.access_token, t.refresh_token) not in issued:
            issued.append((t.access_token, t.refresh_token))

    try:
        # short-lived tokens (traymail refreshes one that expires within 2 min,
        # so every command refreshes); long enough for a loaded machine
        bed.oidc.set_access_ttl(8)
        proc = subprocess.Popen([sys.executable, "-m", "traymail", "sign-in", "--no-browser"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:
            outputs.append(line)
            if line.strip().startswith("http://"):
                url = line.strip()
                break
        outputs.append(browser_sign_in(url, user.user, user.password))
        out, err = proc.communicate(timeout=30)
        outputs += [out, err]
        assert proc.returncode == 0, err
        remember()
        outputs.append(run(env, home, "check", "--json"))
        outputs.append(run(env, home, "headers", "--json"))
        outputs.append(run(env, home, "fetch", "--new"))
        outputs.append(run(env, home, "shell", stdin=(
            f"log on\nconnect 127.0.0.1 {bed.dovecot.port}\nauth xoauth2 {user.user}\n"
            f"stat\nquit\n")))
        remember()
        time.sleep(8.5)  # expired: the next check refreshes
        bed.oidc.set_access_ttl(300)
        outputs.append(run(env, home, "check", "--json"))
        remember()
        assert len(issued) >= 2  # a refresh happened
        # the app, with the log window: a revoked sign-in
        app = start_app(home)
        try:
            log = LogWindow(app.root, app.bridge, app.accounts)
            assert pump(app.root, lambda: "Work" in app.results, 20)
            remember()
            last = issued[-1][1]
            assert last is not None
            bed.oidc.revoke(last)
            app.check_now()
            assert pump(app.root, lambda: "Work" in app.errors, 20)
            texts += [log.contents(), *(str(e) for mb in app.accounts.mailboxes(False)
                                        for e in mb.transcript)]
            texts += [f"{n.title}: {n.message}" for n in app.notices]
            assert "C: AUTH XOAUTH2 ********" in texts[0]
        finally:
            app.shutdown()
    finally:
        bed.oidc.set_access_ttl(300)
        keyring.set_keyring(previous)
    texts += outputs + [caplog.text]
    needles = token_needles(issued, user.user)
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "traymail.log" for p in files), files
    if not any(p.suffix == ".eml" for p in files):
        dovelog = (bed.dovecot.root / "dovecot.log").read_text("utf-8", "replace")
        raise AssertionError(f"no download: {outputs}\n--- Dovecot:\n{dovelog[-3000:]}")
    assert "+OK" in "".join(outputs) and "1 message," in "".join(outputs)
    hits = [(n[:8], t[max(0, t.find(n) - 300):t.find(n) + 40])
            for n in needles for t in texts if n in t]
    hits += [(n[:8], str(p)) for n in needles for p in files if n.encode() in p.read_bytes()]
    assert hits == [], hits
    settings_text = (home / "settings.json").read_text()
    assert not any(t and t in settings_text for pair in issued for t in pair)
