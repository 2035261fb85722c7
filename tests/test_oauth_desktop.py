"""OAuth2 from the user's side: `traymail sign-in` (a real process, the real
keyring), the browser step once in headless Debian Chromium, and the tray
app telling a revoked sign-in ONCE through the real notification path
(desktop-notifier -> D-Bus -> dunst) without retrying."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from traymail.accounts import Accounts
from traymail.app import App
from traymail.oauth import TokenManager
from traymail.oauth_flows import sign_in
from traymail.passwords import MemoryStore
from traymail.platform_support import LinuxSupport
from traymail.session import AccountState
from traymail.settings import Settings, resolve_paths

from .desktop import Desktop, dunst_history, start_notification_daemon
from .oauthbed import CLIENT_ID, OAuthBed, browser_sign_in, chromium_sign_in, device_user_step
from .realservers import DovecotAccount
from .test_oauth import browser, oauth_account
from .uitools import pump


@pytest.fixture
def user(oauth_bed: OAuthBed) -> DovecotAccount:
    return oauth_bed.dovecot.new_account()


def write_settings(home: Path, bed: OAuthBed, user: DovecotAccount, flow: str = "loopback"
                   ) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.json").write_text(json.dumps({"accounts": [{
        "name": "Work", "host": "127.0.0.1", "username": user.user,
        "port": bed.dovecot.ssl_port, "cafile": str(bed.dovecot.cert.cert),
        "auth": "oauth2", "oauth2": {"provider": "custom", "issuer": bed.oidc.issuer,
                                     "client_id": CLIENT_ID, "scopes": ["pop3"],
                                     "flow": flow}}]}))


def traymail(env: dict[str, str], home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "traymail", "--home", str(home), *args],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def read_until(proc: subprocess.Popen[str], pattern: str, lines: list[str]) -> re.Match[str]:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        m = re.search(pattern, line)
        if m:
            return m
    raise AssertionError(f"no {pattern!r} in {lines}; stderr {proc.stderr.read()[-800:]}"  # type: ignore[union-attr]
                         )


def test_cli_sign_in_loopback_and_device_then_check(
        oauth_bed: OAuthBed, user: DovecotAccount, secret_service: dict[str, str],
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_settings(home, oauth_bed, user)
    env = dict(secret_service)
    # 1. the browser redirect: the URL is printed, "the browser" follows it
    lines: list[str] = []
    proc = traymail(env, home, "sign-in", "--no-browser")
    url = read_until(proc, r"^\s+(http://127\.0\.0\.1:\d+/auth\?\S+)$", lines).group(1)
    page = browser_sign_in(url, user.user, user.password)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Signed in to traymail" in page and "signed in to Work" in out
    assert "Open this page to sign in" in "".join(lines)
    check = subprocess.run([sys.executable, "-m", "traymail", "--home", str(home), "check",
                            "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["accounts"][0]["state"] == "ok"
    # 2. the device flow: the code and the link printed, the user step elsewhere
    lines = []
    proc = traymail(env, home, "sign-in", "--device")
    uri = read_until(proc, r"^\s+(http://\S+/device)$", lines).group(1)
    code = read_until(proc, r"^\s+([A-Z]{4}-[A-Z]{4})$", lines).group(1)
    device_user_step(uri, code, user.user, user.password)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "signed in to Work" in out and "enter the code" in "".join(lines)
    # 3. clear exit codes: not an OAuth2 account -> 2; refused -> 1
    (home / "settings.json").write_text(json.dumps({"accounts": [{
        "name": "Plain", "host": "127.0.0.1", "username": "x"}]}))
    bad = subprocess.run([sys.executable, "-m", "traymail", "--home", str(home), "sign-in"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "does not use OAuth2" in bad.stderr


def test_cli_without_client_id_says_where_to_put_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.json").write_text(json.dumps({"accounts": [{
        "name": "Office", "host": "outlook.office365.com", "username": "me@example.com",
        "auth": "oauth2", "oauth2": {"provider": "microsoft"}}]}))
    p = subprocess.run([sys.executable, "-m", "traymail", "--home", str(home), "sign-in",
                        "--no-browser"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "TRAYMAIL_PASSWORD_IN_MEMORY": "1"})
    assert p.returncode == 2
    assert "no OAuth2 client ID" in p.stderr and "settings.json" in p.stderr
    assert "Mobile and desktop applications" in p.stderr


def test_browser_step_in_headless_chromium(oauth_bed: OAuthBed, user: DovecotAccount,
                                           tmp_path: Path) -> None:
    """Once with a real browser engine: Debian's chromium renders the
    provider's pages, the forms are filled and submitted in it, and its
    redirect reaches traymail's loopback server."""
    account = oauth_account(oauth_bed, user)
    manager = TokenManager(MemoryStore())
    pages: list[str] = []

    def open_chromium(url: str) -> bool:
        threading.Thread(target=lambda: pages.append(
            chromium_sign_in(url, user.user, user.password)), daemon=True).start()
        return True

    tokens = sign_in(account, manager=manager, open_browser=open_chromium, timeout=90)
    assert oauth_bed.oidc.introspect(tokens.access_token)["active"]
    from traymail.mailbox import Mailbox
    from traymail.store import Store

    paths = resolve_paths(home=tmp_path)
    mb = Mailbox(account, Store(paths.state_db), MemoryStore(), paths, tokens=manager)
    assert mb.check().total_count == 0
    assert pump_until(lambda: pages) and "Signed in to traymail" in pages[0]


def pump_until(pred: object, timeout: float = 10) -> bool:
    from .oauthbed import wait_until

    return wait_until(pred, timeout)


@pytest.fixture
def notify_desktop(x_display: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desktop]:
    desktop = Desktop()
    desktop.start_bus()
    start_notification_daemon(desktop, x_display)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    try:
        yield desktop
    finally:
        desktop.stop()


_APPS: list[App] = []


def test_revoked_sign_in_one_toast_no_retry_loop(
        oauth_bed: OAuthBed, user: DovecotAccount, notify_desktop: Desktop,
        tmp_path: Path) -> None:
    account = oauth_account(oauth_bed, user, name="Work")
    manager = TokenManager(MemoryStore())
    first = sign_in(account, manager=manager, open_browser=browser(user, []), timeout=30)
    paths = resolve_paths(home=tmp_path / "home")
    accounts = Accounts(paths, Settings((account,)), passwords=MemoryStore(), tokens=manager)
    app = App(paths, accounts=accounts, use_tray=False, use_notifier=True,
              single_instance=False, platform=LinuxSupport(tmp_path / "xdg"))
    _APPS.append(app)
    app.start()
    try:
        mb = accounts.mailbox("Work")
        assert pump(app.root, lambda: mb.status.state is AccountState.OK, 20)
        assert first.refresh_token is not None
        oauth_bed.oidc.revoke(first.refresh_token)  # the user revoked traymail's access
        requests_before = oauth_bed.oidc.token_requests()
        app.check_now()
        assert pump(app.root, lambda: "Work" in app.errors, 20)
        assert mb.status.state is AccountState.NEEDS_SIGN_IN
        # the poller leaves it alone, and "Check now" does not reach the provider
        for _ in range(3):
            app.check_now()
            pump(app.root, None, 1.5)
        assert app.poller.next_due("Work") == float("inf")
        assert oauth_bed.oidc.token_requests() == requests_before + 1  # one refresh, refused
        signs = [n for n in app.notices if n.title == "Sign in again to Work"]
        assert len(signs) == 1, app.notices
        pump(app.root, None, 1.0)
        subprocess.run(["dunstctl", "close-all"], env=notify_desktop.env, timeout=10)
        shown = [h for h in dunst_history(notify_desktop)
                 if h["summary"] == "Sign in again to Work"]
        assert len(shown) == 1 and "refused the stored sign-in" in shown[0]["body"]
        assert app.icon_and_title()[1].find("Work: Sign in again") > 0
    finally:
        app.shutdown()
