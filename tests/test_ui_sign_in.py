"""Settings > "Sign in…" (real Tk on Xvfb, the real OAuth2 test bed): the
device flow shows the link and the code in a copyable field, the user step
is done elsewhere, the dialog says "Signed in", the tokens are stored and
"Test connection" then logs in with them (XOAUTH2 on Dovecot)."""

from __future__ import annotations

import json
import threading
import tkinter as tk
from pathlib import Path

from traymail.accounts import Accounts
from traymail.oauth import TokenManager
from traymail.passwords import MemoryStore
from traymail.settings import AuthMethod, resolve_paths
from traymail.ui.settings_dialog import AUTH_LABELS, SettingsDialog
from traymail.ui.worker import TkBridge

from .oauthbed import CLIENT_ID, OAuthBed, device_user_step
from .uitools import pump


def test_sign_in_button_device_flow(root: tk.Tk, oauth_bed: OAuthBed, tmp_path: Path) -> None:
    user = oauth_bed.dovecot.new_account()
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.json").write_text(json.dumps({"accounts": [{
        "name": "Work", "host": "127.0.0.1", "username": user.user,
        "port": oauth_bed.dovecot.ssl_port, "cafile": str(oauth_bed.dovecot.cert.cert),
        "auth": "oauth2", "oauth2": {"provider": "custom", "issuer": oauth_bed.oidc.issuer,
                                     "client_id": CLIENT_ID, "scopes": ["pop3"],
                                     "flow": "device"}}]}))
    tokens = TokenManager(MemoryStore())
    accounts = Accounts(resolve_paths(home=home), passwords=MemoryStore(), tokens=tokens)
    signed: list[str] = []
    dlg = SettingsDialog(root, TkBridge(root), accounts,
                         on_signed_in=lambda a: signed.append(a.name))
    assert dlg.auth.get() == AUTH_LABELS[AuthMethod.OAUTH2]
    dlg.sign_in.button.invoke()
    assert pump(root, lambda: dlg.sign_in.shown.get(), 20), dlg.sign_in.status.cget("text")
    code, uri = dlg.sign_in.shown.get().split()
    assert uri == oauth_bed.oidc.issuer + "/device"
    assert "enter the code " + code in dlg.sign_in.status.cget("text")
    assert dlg.sign_in.field.winfo_ismapped() and "readonly" in dlg.sign_in.field.state()
    dlg.sign_in.copy.invoke()
    assert root.clipboard_get() == f"{code}   {uri}"
    threading.Thread(target=device_user_step, args=(uri, code, user.user, user.password),
                     daemon=True).start()
    assert pump(root, lambda: signed, 30), dlg.sign_in.status.cget("text")
    assert signed == ["Work"] and dlg.sign_in.status.cget("text") == "Signed in to Work."
    assert not dlg.sign_in.field.winfo_ismapped()
    assert not tokens.needs_sign_in(accounts.settings.account("Work"))
    dlg.test_connection()
    assert pump(root, lambda: dlg.test_result, 20)
    assert dlg.test_result.startswith("OK: 0 messages"), dlg.test_result
    assert "method=XOAUTH2" in oauth_bed.dovecot.log_text()
    dlg.close()


def test_sign_in_refused_for_a_password_account(root: tk.Tk, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.json").write_text(json.dumps({"accounts": [{
        "name": "Plain", "host": "127.0.0.1", "username": "u"}]}))
    accounts = Accounts(resolve_paths(home=home), passwords=MemoryStore(),
                        tokens=TokenManager(MemoryStore()))
    dlg = SettingsDialog(root, TkBridge(root), accounts)
    dlg.sign_in.button.invoke()
    assert "Sign in with the provider (OAuth2)" in dlg.sign_in.status.cget("text")
    assert not dlg.sign_in.running
    dlg.close()
