"""OAuth2 sign-in on Windows Python under Wine, end to end (run by the Windows
lane, scripts/wine_lane.py; the ordinary run does not collect it).

The test bed runs here, on Linux, on loopback (tests/oauthbed.py: npm
oidc-provider + a Dovecot whose oauth2 passdb introspects the tokens); the
console's ``traymail sign-in`` runs on Windows Python: its loopback redirect
server is a Windows socket, the tokens go to Windows Credential Manager, and
the check that follows authenticates with XOAUTH2 / OAUTHBEARER over TLS.
The browser step is done from here by a real HTTP client (the same as in
tests/test_oauth.py), the device step likewise.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from .oauthbed import CLIENT_ID, OAuthBed, browser_sign_in, device_user_step
from .realservers import DovecotAccount
from .winlane import WineLane

OAUTH_SERVICE = "traymail-oauth2"  # traymail.oauth.SERVICE


@pytest.fixture(scope="module")
def lane(x_display: str) -> WineLane:
    lane = WineLane.from_env()
    lane.display = x_display
    return lane


def oauth_home(lane: WineLane, bed: OAuthBed, user: DovecotAccount, name: str,
               mechanism: str, flow: str) -> Path:
    home = lane.root / "run" / name
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    shutil.copy(bed.dovecot.cert.cert, home / "ca.pem")  # Windows sees only the lane folder
    account = {"name": "Work", "host": "127.0.0.1", "port": bed.dovecot.ssl_port,
               "username": user.user, "security": "ssl", "cafile": lane.win(home / "ca.pem"),
               "check_interval_minutes": 60, "auth": "oauth2",
               "oauth2": {"provider": "custom", "issuer": bed.oidc.issuer,
                          "client_id": CLIENT_ID, "scopes": ["pop3"],
                          "mechanism": mechanism, "flow": flow}}
    (home / "settings.json").write_text(json.dumps({"schema_version": 1,
                                                    "accounts": [account]}))
    return home


def sign_in_on_windows(lane: WineLane, home: Path, args: list[str],
                       user_step: object) -> tuple[int, str]:
    """Start ``traymail sign-in`` on Windows Python; when it prints a URL (or a
    code), do the user's step from here; return its exit status and output."""
    proc = lane.popen("-m", "traymail", "sign-in", *args, "--timeout", "120",
                      "--home", lane.win(home), env=lane.env(LANGUAGE="en"),
                      stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout],  # type: ignore[union-attr]
                     daemon=True).start()
    text, done = "", False
    try:
        while proc.poll() is None or not lines.empty():
            try:
                text += lines.get(timeout=1)
            except queue.Empty:
                continue
            if not done and user_step(text):  # type: ignore[operator]
                done = True
        rc = proc.wait(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
    while not lines.empty():
        text += lines.get()
    return rc, text


def stored_tokens(lane: WineLane, entry: str) -> tuple[str, dict[str, object]]:
    out = lane.python("-c", "import keyring, sys; k = keyring.get_keyring(); "
                      "print(type(k).__name__); print(k.get_password(sys.argv[1], sys.argv[2]))",
                      OAUTH_SERVICE, entry)
    backend, _, blob = out.stdout.partition("\n")
    assert blob.strip() not in ("", "None"), out.stderr
    return backend.strip(), json.loads(blob)


def check_json(lane: WineLane, home: Path) -> dict[str, object]:
    out = lane.python("-m", "traymail", "check", "--json", "--home", lane.win(home))
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)["accounts"][0]  # type: ignore[no-any-return]


def test_cli_oauth_sign_in_browser(lane: WineLane, oauth_bed: OAuthBed) -> None:
    """Loopback redirect + PKCE: the redirect lands on a Windows socket."""
    user = oauth_bed.dovecot.new_account()
    user.add(b"From: a@example.com\nSubject: signed in on Windows\n\nbody\n")
    home = oauth_home(lane, oauth_bed, user, "oauth-browser", "xoauth2", "loopback")
    pages: list[str] = []

    def user_step(text: str) -> bool:
        url = re.search(re.escape(oauth_bed.oidc.issuer) + r"\S*\?\S+", text)
        if not url:
            return False
        assert "code_challenge_method=S256" in url.group(0)
        threading.Thread(target=lambda: pages.append(browser_sign_in(
            url.group(0), user.user, user.password)), daemon=True).start()
        return True

    rc, text = sign_in_on_windows(lane, home, ["--no-browser"], user_step)
    assert rc == 0, text
    assert pages and "Signed in to traymail" in pages[0], pages
    backend, tokens = stored_tokens(lane, f"{user.user}@127.0.0.1:{oauth_bed.dovecot.ssl_port}")
    assert backend == "WinVaultKeyring"
    access = str(tokens["access_token"])
    assert tokens["refresh_token"] and access not in text
    assert access not in (home / "settings.json").read_text()
    assert oauth_bed.oidc.introspect(access)["active"] is True

    entry = check_json(lane, home)
    assert entry["state"] == "ok" and entry["total_count"] == 1, entry
    assert "method=XOAUTH2" in oauth_bed.dovecot.log_text()


def test_cli_oauth_sign_in_device(lane: WineLane, oauth_bed: OAuthBed) -> None:
    """Device flow (RFC 8628): the code is typed in on "another device" (here)."""
    user = oauth_bed.dovecot.new_account()
    home = oauth_home(lane, oauth_bed, user, "oauth-device", "oauthbearer", "device")
    pages: list[str] = []

    def user_step(text: str) -> bool:
        m = re.search(r"open\s+(http://\S+)\s+and enter the code\s+(\S+)", text)
        if not m:
            return False
        threading.Thread(target=lambda: pages.append(device_user_step(
            m.group(1), m.group(2), user.user, user.password)), daemon=True).start()
        return True

    rc, text = sign_in_on_windows(lane, home, ["--device"], user_step)
    assert rc == 0, text
    assert pages and "Sign-in Success" in pages[0], pages
    backend, tokens = stored_tokens(lane, f"{user.user}@127.0.0.1:{oauth_bed.dovecot.ssl_port}")
    assert backend == "WinVaultKeyring" and tokens["access_token"]

    entry = check_json(lane, home)
    assert entry["state"] == "ok" and entry["total_count"] == 0, entry
    assert "method=OAUTHBEARER" in oauth_bed.dovecot.log_text()
