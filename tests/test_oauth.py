"""OAuth2 end to end on the real test bed (tests/oauthbed.py): a real
OpenID/OAuth2 server (oidc-provider), a Dovecot whose oauth2 passdb
introspects its tokens, the real keyring (gnome-keyring on a private D-Bus).

Sign-in through the loopback redirect (a real HTTP client as the browser),
the device flow with the user step scripted, XOAUTH2 and OAUTHBEARER
sessions, refresh after expiry, a token the server refuses (refreshed once),
a revoked sign-in (needs sign-in, no loop)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from traymail.devserver import DevServer, MemoryMailbox
from traymail.mailbox import Mailbox, MailboxError
from traymail.oauth import SERVICE, NeedsSignIn, TokenManager
from traymail.oauth_flows import SignInCancelled, loopback_sign_in, sign_in
from traymail.passwords import KeyringStore, MemoryStore
from traymail.pop3 import POP3
from traymail.samples import sample_messages
from traymail.session import AccountState
from traymail.settings import Account, Paths, parse_settings, resolve_paths
from traymail.store import Store

from .oauthbed import (
    CLIENT_ID,
    OAuthBed,
    browser_sign_in,
    device_user_step,
    wait_until,
)
from .realservers import DovecotAccount


@pytest.fixture
def real_keyring(secret_service: dict[str, str], monkeypatch: pytest.MonkeyPatch
                 ) -> Iterator[None]:
    import keyring
    from keyring.backends import SecretService

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service["DBUS_SESSION_BUS_ADDRESS"])
    previous = keyring.get_keyring()
    keyring.set_keyring(SecretService.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def user(oauth_bed: OAuthBed) -> DovecotAccount:
    return oauth_bed.dovecot.new_account()


def oauth_account(bed: OAuthBed, user: DovecotAccount, mechanism: str = "xoauth2",
                  flow: str = "loopback", name: str = "Work", port: int | None = None
                  ) -> Account:
    return parse_settings({"accounts": [{
        "name": name, "host": "127.0.0.1", "username": user.user,
        "port": port or bed.dovecot.ssl_port, "security": "ssl",
        "cafile": str(bed.dovecot.cert.cert), "check_interval_minutes": 1,
        "auth": "oauth2", "oauth2": {"provider": "custom", "issuer": bed.oidc.issuer,
                                     "client_id": CLIENT_ID, "scopes": ["pop3"],
                                     "mechanism": mechanism, "flow": flow}}]}).accounts[0]


def browser(user: DovecotAccount, pages: list[str]) -> Callable[[str], bool]:
    """The system browser's stand-in: a real HTTP client, in its own thread."""
    def open_(url: str) -> bool:
        threading.Thread(target=lambda: pages.append(browser_sign_in(url, user.user,
                                                                     user.password)),
                         daemon=True).start()
        return True
    return open_


def mailbox(account: Account, paths: Paths, tokens: TokenManager) -> Mailbox:
    return Mailbox(account, Store(paths.state_db), MemoryStore(), paths, tokens=tokens)


def text(events: object) -> str:
    return "\n".join(str(e) for e in events)  # type: ignore[attr-defined]


def test_loopback_sign_in_then_xoauth2_and_oauthbearer_sessions(
        oauth_bed: OAuthBed, user: DovecotAccount, real_keyring: None, tmp_path: Path) -> None:
    import keyring

    account = oauth_account(oauth_bed, user)
    manager = TokenManager(KeyringStore(SERVICE))
    pages: list[str] = []
    shown: list[str] = []
    tokens = sign_in(account, manager=manager, open_browser=browser(user, pages),
                     on_url=shown.append, timeout=30)
    assert wait_until(lambda: pages, 5) and "Signed in to traymail" in pages[0]
    url = shown[0]
    assert "code_challenge_method=S256" in url and "code_challenge=" in url
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url and "state=" in url
    # the tokens are in the real keyring, one JSON entry, nowhere else
    stored = json.loads(keyring.get_password(SERVICE, account.keyring_user) or "{}")
    assert stored["access_token"] == tokens.access_token and stored["refresh_token"]
    assert tokens.access_token not in repr(tokens) and "***" in repr(tokens)
    info = oauth_bed.oidc.introspect(tokens.access_token)
    assert info["active"] is True and info["sub"] == user.user and info["scope"] == "pop3"

    user.add(b"From: a@example.com\nSubject: hello\n\nbody\n")
    paths = resolve_paths(home=tmp_path)
    for mechanism in ("xoauth2", "oauthbearer"):
        acc = oauth_account(oauth_bed, user, mechanism)
        mb = mailbox(acc, paths, manager)
        result = mb.check()
        assert result.total_count == 1 and mb.status.state is AccountState.OK
        wire = text(mb.transcript)
        assert f"C: AUTH {mechanism.upper()}" in wire and tokens.access_token not in wire
        assert f"method={mechanism.upper()}" in oauth_bed.dovecot.log_text()
    assert manager.refreshes == 0


def test_device_flow_with_the_user_step_scripted(
        oauth_bed: OAuthBed, user: DovecotAccount, tmp_path: Path) -> None:
    account = oauth_account(oauth_bed, user, flow="device")
    manager = TokenManager(MemoryStore())
    seen: list[str] = []

    def on_code(code: object) -> None:
        from traymail.oauth_flows import DeviceCode

        assert isinstance(code, DeviceCode)
        assert code.verification_uri.startswith(oauth_bed.oidc.issuer)
        assert "device_code" not in repr(code) or "***" in repr(code)
        seen.append(code.message)
        threading.Thread(target=lambda: seen.append(device_user_step(
            code.verification_uri, code.user_code, user.user, user.password)),
            daemon=True).start()

    before = oauth_bed.oidc.stats()["requests"].get("/token", 0)
    sign_in(account, manager=manager, on_device_code=on_code)
    assert seen[0].startswith("Open http://127.0.0.1:") and "enter the code" in seen[0]
    assert wait_until(lambda: len(seen) == 2, 5) and "Sign-in Success" in seen[1]
    polls = oauth_bed.oidc.stats()["requests"]["/token"] - before
    assert 1 <= polls <= 6  # polled at the server's interval, not hammered
    mb = mailbox(account, resolve_paths(home=tmp_path), manager)
    assert mb.check().total_count == 0


def test_refresh_after_expiry_without_user_action(
        oauth_bed: OAuthBed, user: DovecotAccount, tmp_path: Path) -> None:
    """Access tokens live 4 s here; traymail refreshes 1.5 s before expiry
    (the margin: 2 minutes by default), so the server never sees a stale one."""
    oauth_bed.oidc.set_access_ttl(4)
    try:
        account = oauth_account(oauth_bed, user)
        manager = TokenManager(MemoryStore(), margin=1.5)
        first = sign_in(account, manager=manager, open_browser=browser(user, []), timeout=30)
        mb = mailbox(account, resolve_paths(home=tmp_path), manager)
        mb.check()
        assert first.expires_at is not None
        time.sleep(max(0.0, first.expires_at - 1.5 - time.time()) + 0.1)
        refreshed = oauth_bed.oidc.grants("refresh_token")
        mb.check()  # no user action: the refresh token gets a new access token
        assert mb.status.state is AccountState.OK and manager.refreshes == 1
        assert "refreshing it once" not in text(mb.transcript)  # before, not after a failure
        assert oauth_bed.oidc.grants("refresh_token") == refreshed + 1
        new = manager.tokens(account)
        assert new is not None and new.access_token != first.access_token
        assert new.refresh_token != first.refresh_token  # rotated, and the new one stored
        assert wait_until(lambda: not oauth_bed.oidc.introspect(first.access_token)["active"],
                          10)
        mb.check()  # the old token expired at the server; the new one still works
        assert manager.refreshes == 1 and mb.status.state is AccountState.OK
    finally:
        oauth_bed.oidc.set_access_ttl(oauth_bed.oidc.default_ttl)


def test_token_expired_at_the_server_only_is_refreshed_once(
        oauth_bed: OAuthBed, user: DovecotAccount, tmp_path: Path) -> None:
    """Our clock says the token is still good, Dovecot says no (expiry mid-way,
    clock skew): the XOAUTH2 failure challenge is answered, the token refreshed
    once and the login retried on a new connection."""
    oauth_bed.oidc.set_access_ttl(1)
    try:
        account = oauth_account(oauth_bed, user)
        manager = TokenManager(MemoryStore(), margin=0, clock=lambda: time.time() - 3600)
        first = sign_in(account, manager=manager, open_browser=browser(user, []), timeout=30)
        oauth_bed.oidc.set_access_ttl(300)
        assert wait_until(lambda: not oauth_bed.oidc.introspect(first.access_token)["active"],
                          10)
        mb = mailbox(account, resolve_paths(home=tmp_path), manager)
        mb.check()
        wire = text(mb.transcript)
        assert "XOAUTH2 failure from the server" in wire
        assert "refreshing it once" in wire and wire.count("C: AUTH XOAUTH2") == 2
        assert manager.refreshes == 1 and mb.status.state is AccountState.OK
    finally:
        oauth_bed.oidc.set_access_ttl(oauth_bed.oidc.default_ttl)


class IntrospectedTokens(dict[str, str]):
    """The devserver's token table, answered by the real OAuth2 server."""

    def __init__(self, bed: OAuthBed) -> None:
        super().__init__()
        self.bed = bed

    def get(self, token: str, default: str | None = None) -> str | None:  # type: ignore[override]
        info = self.bed.oidc.introspect(token)
        return info.get("sub") if info.get("active") else default


def test_xoauth2_error_reply_from_the_devserver(
        oauth_bed: OAuthBed, user: DovecotAccount, tmp_path: Path) -> None:
    box = MemoryMailbox(sample_messages(2))
    with DevServer(box, {}, tokens=IntrospectedTokens(oauth_bed)) as srv:
        account = parse_settings({"accounts": [{
            "name": "Dev", "host": "127.0.0.1", "port": srv.port, "username": user.user,
            "security": "none", "allow_insecure": True, "auth": "oauth2",
            "oauth2": {"provider": "custom", "issuer": oauth_bed.oidc.issuer,
                       "client_id": CLIENT_ID, "scopes": ["pop3"]}}]}).accounts[0]
        manager = TokenManager(MemoryStore(), margin=0, clock=lambda: time.time() - 3600)
        oauth_bed.oidc.set_access_ttl(1)
        try:
            first = sign_in(account, manager=manager, open_browser=browser(user, []),
                            timeout=30)
        finally:
            oauth_bed.oidc.set_access_ttl(oauth_bed.oidc.default_ttl)
        assert wait_until(lambda: not oauth_bed.oidc.introspect(first.access_token)["active"],
                          10)
        mb = mailbox(account, resolve_paths(home=tmp_path), manager)
        assert mb.check().total_count == 2
        wire = text(mb.transcript)
        # the failure challenge (base64 JSON) answered with an empty line, then -ERR
        assert "XOAUTH2 failure from the server: status=401" in wire
        assert "S: -ERR [AUTH] invalid token" in wire
        assert manager.refreshes == 1
        assert first.access_token not in wire


def test_revoked_sign_in_needs_sign_in_once_and_never_loops(
        oauth_bed: OAuthBed, user: DovecotAccount, tmp_path: Path) -> None:
    account = oauth_account(oauth_bed, user)
    manager = TokenManager(MemoryStore())
    first = sign_in(account, manager=manager, open_browser=browser(user, []), timeout=30)
    mb = mailbox(account, resolve_paths(home=tmp_path), manager)
    mb.check()
    assert first.refresh_token is not None
    oauth_bed.oidc.revoke(first.refresh_token)  # revokes the whole grant
    assert not oauth_bed.oidc.introspect(first.access_token)["active"]
    errors = oauth_bed.oidc.stats()["grantErrors"].get("refresh_token", 0)
    tokens_before = oauth_bed.oidc.token_requests()
    with pytest.raises(MailboxError) as caught:
        mb.check()  # [AUTH] -> one refresh -> invalid_grant
    assert caught.value.state is AccountState.NEEDS_SIGN_IN
    assert str(caught.value).startswith("Sign in again to Work")
    assert oauth_bed.oidc.token_requests() == tokens_before + 1
    assert oauth_bed.oidc.stats()["grantErrors"]["refresh_token"] == errors + 1
    for _ in range(3):  # later checks do not touch the token endpoint again
        with pytest.raises(MailboxError) as again:
            mb.check()
        assert again.value.state is AccountState.NEEDS_SIGN_IN
    assert oauth_bed.oidc.token_requests() == tokens_before + 1
    assert manager.needs_sign_in(account)
    # a new sign-in clears it
    sign_in(account, manager=manager, open_browser=browser(user, []), timeout=30)
    assert mb.check().total_count == 0 and mb.status.state is AccountState.OK


def test_loopback_server_checks_state_and_times_out(oauth_bed: OAuthBed,
                                                    user: DovecotAccount) -> None:
    import urllib.error
    import urllib.request

    from traymail.oauth import endpoints_for

    e = endpoints_for(oauth_account(oauth_bed, user))
    cancel = threading.Event()
    answers: list[object] = []

    def forged(url: str) -> None:
        port = url.split("127.0.0.1%3A", 1)[1].split("%2F", 1)[0]
        for path in ("/?code=evil&state=wrong", "/favicon.ico"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5)
            except urllib.error.HTTPError as exc:
                answers.append(exc.code)
        cancel.set()

    with pytest.raises(SignInCancelled):
        loopback_sign_in(e, open_browser=lambda url: threading.Thread(
            target=forged, args=(url,), daemon=True).start(), cancel=cancel, timeout=20)
    assert answers == [400, 404]  # a wrong state does not end the sign-in
    t0 = time.monotonic()
    with pytest.raises(Exception, match="no answer from the browser within 1 s"):
        loopback_sign_in(e, open_browser=lambda url: None, timeout=1)
    assert time.monotonic() - t0 < 5


def test_refused_in_the_browser(oauth_bed: OAuthBed, user: DovecotAccount) -> None:
    """The user aborts on the provider's page: a clear error, nothing stored."""
    import requests

    from traymail.oauth import OAuth2Error, endpoints_for

    e = endpoints_for(oauth_account(oauth_bed, user))

    def refuse(url: str) -> None:
        def run() -> None:
            s = requests.Session()
            r = s.get(url, timeout=10)
            s.get(r.url.rstrip("/") + "/abort", timeout=10)  # oidc-provider's abort
        threading.Thread(target=run, daemon=True).start()

    with pytest.raises(OAuth2Error, match="sign-in refused: access_denied"):
        loopback_sign_in(e, open_browser=refuse, timeout=20)


def test_no_tokens_means_needs_sign_in_without_network(oauth_bed: OAuthBed,
                                                       user: DovecotAccount,
                                                       tmp_path: Path) -> None:
    account = oauth_account(oauth_bed, user)
    before = oauth_bed.oidc.token_requests()
    mb = mailbox(account, resolve_paths(home=tmp_path), TokenManager(MemoryStore()))
    with pytest.raises(MailboxError) as caught:
        mb.check()
    assert caught.value.state is AccountState.NEEDS_SIGN_IN
    assert "traymail sign-in" in str(caught.value)
    assert oauth_bed.oidc.token_requests() == before
    with pytest.raises(NeedsSignIn):
        TokenManager(MemoryStore()).access_token(account)


class Recording(POP3):
    """POP3 that keeps every byte it writes."""

    sent: list[bytes]

    def _write(self, data: bytes) -> None:
        self.__dict__.setdefault("sent", []).append(data)
        super()._write(data)


def test_plain_xoauth2_oauthbearer_on_dovecot_byte_for_byte(oauth_bed: OAuthBed,
                                                             user: DovecotAccount) -> None:
    """One user, three logins on the OAuth2 Dovecot: AUTH PLAIN with the
    password, XOAUTH2 and OAUTHBEARER with a token from the loopback sign-in.
    The wire byte for byte; the transcripts masked and, apart from the
    mechanism, identical."""
    import base64

    token = sign_in(oauth_account(oauth_bed, user), manager=TokenManager(MemoryStore()),
                    open_browser=browser(user, []), timeout=30).access_token
    port = oauth_bed.dovecot.port
    messages = {
        "plain": f"\0{user.user}\0{user.password}",
        "xoauth2": f"user={user.user}\x01auth=Bearer {token}\x01\x01",  # Google's format
        "oauthbearer": f"n,a={user.user},\x01host=127.0.0.1\x01port={port}\x01"
                       f"auth=Bearer {token}\x01\x01",  # RFC 7628 §3.1
    }
    transcripts: dict[str, list[str]] = {}
    for mech, secret in (("plain", user.password), ("xoauth2", token), ("oauthbearer", token)):
        lines: list[str] = []
        with Recording("127.0.0.1", port, timeout=10,
                       transcript=lambda e, lines=lines: lines.append(str(e))) as pop:
            pop.capa()
            pop.login(user.user, secret, mechanism=mech)
            pop.stat()
        sent = list(pop.sent)
        ir = base64.b64encode(messages[mech].encode())
        assert sent == [b"CAPA\r\n", f"AUTH {mech.upper()} ".encode() + ir + b"\r\n",
                        b"STAT\r\n", b"QUIT\r\n"]  # byte for byte
        assert not any(secret in ln or ir.decode() in ln for ln in lines)
        transcripts[mech] = lines
    for mech, lines in transcripts.items():
        assert lines[1:] == [
            "*: connected to 127.0.0.1", "S: +OK Dovecot (Debian) ready.", "C: CAPA", "S: +OK",
            lines[5], f"C: AUTH {mech.upper()} ********", "S: +OK Logged in.", "C: STAT",
            "S: +OK 0 0", "C: QUIT", "S: +OK Logging out.", "*: connection closed"]
    log = oauth_bed.dovecot.log_text()
    for mech in ("PLAIN", "XOAUTH2", "OAUTHBEARER"):
        assert f"user=<{user.user}>, method={mech}" in log


def test_device_flow_slow_down_expired_and_refused(oauth_bed: OAuthBed,
                                                   user: DovecotAccount) -> None:
    """RFC 8628 §3.5: slow_down adds 5 s to the interval for good,
    authorization_pending waits, expired_token and access_denied end it."""
    from traymail.oauth import OAuth2Error, endpoints_for
    from traymail.oauth_flows import finish_device_sign_in, start_device_sign_in

    e = endpoints_for(oauth_account(oauth_bed, user, flow="device"))
    code = start_device_sign_in(e)
    assert code.interval == 5 and code.user_code and "***" in repr(code)
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # record the interval, wait a little
        waits.append(seconds)
        if len(waits) == 4:  # the user acts meanwhile
            device_user_step(code.verification_uri, code.user_code, user.user, user.password)
        time.sleep(0.05)

    oauth_bed.oidc.token_faults("slow_down", "slow_down")
    token = finish_device_sign_in(e, code, sleep=sleep)
    assert token["access_token"] and waits[:4] == [5, 10, 15, 15]
    # expired_token from the server, and a code past its lifetime: no request at all
    code = start_device_sign_in(e)
    oauth_bed.oidc.token_faults("expired_token")
    with pytest.raises(OAuth2Error, match="code expired"):
        finish_device_sign_in(e, code, sleep=lambda s: None)
    before = oauth_bed.oidc.token_requests()
    with pytest.raises(OAuth2Error, match="code expired"):
        finish_device_sign_in(e, code, sleep=lambda s: None,
                              clock=lambda: code.expires_at + 1)
    assert oauth_bed.oidc.token_requests() == before
    # the user aborts on the provider's page: access_denied
    code = start_device_sign_in(e)
    device_user_step(code.verification_uri, code.user_code, user.user, user.password,
                     abort=True)
    with pytest.raises(OAuth2Error, match="refused"):
        finish_device_sign_in(e, code, sleep=lambda s: time.sleep(0.05))
    # cancelled by the caller (the dialog closed)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(SignInCancelled):
        finish_device_sign_in(e, start_device_sign_in(e), cancel=cancel)


def test_sign_out_revokes_at_the_provider(oauth_bed: OAuthBed, user: DovecotAccount) -> None:
    """RFC 7009: the refresh token is revoked (the whole grant with it) and
    the keyring entry removed."""
    account = oauth_account(oauth_bed, user)
    manager = TokenManager(MemoryStore())
    first = sign_in(account, manager=manager, open_browser=browser(user, []), timeout=30)
    assert manager.revoke(account) is True
    assert manager.tokens(account) is None and manager.needs_sign_in(account)
    assert not oauth_bed.oidc.introspect(first.access_token)["active"]
    assert first.refresh_token is not None
    assert not oauth_bed.oidc.introspect(first.refresh_token)["active"]
