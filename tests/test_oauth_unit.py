"""OAuth2 pieces that need no provider: provider defaults, settings errors,
discovery checks against a local HTTP server, bounded responses, token
storage and masking, the text cleaner."""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from traymail.oauth import (
    NeedsSignIn,
    OAuth2ConfigError,
    OAuth2Error,
    TokenManager,
    Tokens,
    clean,
    discover,
    endpoints_for,
)
from traymail.oauth_flows import SignInCancelled, loopback_sign_in
from traymail.passwords import MemoryStore
from traymail.settings import Account, parse_settings


def account(oauth2: dict[str, Any], **kw: Any) -> Account:
    return parse_settings({"accounts": [{
        "name": "A", "host": "pop.example.com", "username": "me@example.com",
        "auth": "oauth2", "oauth2": oauth2, **kw}]}).accounts[0]


def test_microsoft_defaults_with_a_tenant() -> None:
    e = endpoints_for(account({"provider": "microsoft", "client_id": "abc",
                               "tenant": "organizations"}))
    base = "https://login.microsoftonline.com/organizations/oauth2/v2.0"
    assert e.authorization_endpoint == base + "/authorize"
    assert e.token_endpoint == base + "/token"
    assert e.device_authorization_endpoint == base + "/devicecode"
    assert e.scopes == ("https://outlook.office.com/POP.AccessAsUser.All", "offline_access")
    assert e.client_secret is None and e.revocation_endpoint is None


def test_google_defaults_ask_for_offline_access() -> None:
    e = endpoints_for(account({"provider": "google", "client_id": "x.apps.googleusercontent.com",
                               "client_secret": "GOCSPX-not-secret-for-desktop"}))
    assert e.token_endpoint == "https://oauth2.googleapis.com/token"
    assert e.scopes == ("https://mail.google.com/",)
    assert e.extra["access_type"] == "offline"
    assert "GOCSPX" not in repr(e)  # the secret stays out of logs


def test_settings_override_defaults_and_custom_needs_no_network() -> None:
    e = endpoints_for(account({"provider": "custom", "client_id": "c", "scopes": ["pop"],
                               "authorization_endpoint": "https://id.example/a",
                               "token_endpoint": "https://id.example/t"}))
    assert (e.authorization_endpoint, e.token_endpoint, e.scopes) == (
        "https://id.example/a", "https://id.example/t", ("pop",))


@pytest.mark.parametrize("provider, where", [("microsoft", "Mobile and desktop applications"),
                                             ("google", "Desktop app")])
def test_no_client_id_says_where_to_put_one(provider: str, where: str) -> None:
    with pytest.raises(OAuth2ConfigError) as caught:
        endpoints_for(account({"provider": provider}))
    text = str(caught.value)
    assert "no OAuth2 client ID" in text and where in text and "settings.json" in text
    assert '"client_id"' in text


def test_a_password_account_has_no_endpoints() -> None:
    acc = parse_settings({"accounts": [{"name": "P", "host": "h", "username": "u"}]}).accounts[0]
    with pytest.raises(OAuth2ConfigError, match="does not use OAuth2"):
        endpoints_for(acc)


class Meta(http.server.BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if not self.path.endswith("nolength"):
            self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *a: object) -> None:
        pass


@pytest.fixture
def meta_server() -> Iterator[http.server.HTTPServer]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Meta)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_discovery_checks_the_issuer_and_bounds_the_response(
        meta_server: http.server.HTTPServer) -> None:
    base = f"http://127.0.0.1:{meta_server.server_address[1]}"
    Meta.body = json.dumps({"issuer": "https://evil.example", "token_endpoint": "x"}).encode()
    with pytest.raises(OAuth2Error, match="cannot discover.*not the metadata of"):
        discover(base + "/wrong")
    Meta.body = b"{" + b" " * (300 * 1024) + b"}"
    with pytest.raises(OAuth2Error, match="256 KiB"):
        discover(base + "/big")
    Meta.body = json.dumps({"issuer": base + "/good", "token_endpoint": base + "/t",
                            "authorization_endpoint": base + "/a"}).encode()
    acc = account({"provider": "custom", "client_id": "c", "scopes": ["s"],
                   "issuer": base + "/good"})
    e = endpoints_for(acc)
    assert e.token_endpoint == base + "/t" and e.authorization_endpoint == base + "/a"


def test_tokens_are_masked_and_damaged_entries_mean_sign_in() -> None:
    acc = account({"provider": "custom", "client_id": "c", "scopes": ["s"],
                   "token_endpoint": "https://id.example/t"})
    e = endpoints_for(acc)
    t = Tokens.from_response({"access_token": "AT-secret", "refresh_token": "RT-secret",
                              "expires_in": 3600}, e, now=1000.0)
    assert t.expires_at == 4600.0 and "secret" not in repr(t) and "secret" not in str(t)
    assert Tokens.from_json(t.to_json()) == t
    store = MemoryStore()
    m = TokenManager(store, clock=lambda: 1000.0)
    m.save(acc, t)
    assert m.access_token(acc) == "AT-secret"
    for damaged in ("{not json", "[]", '{"access_token": "x"}', json.dumps(
            {"access_token": "x", "client_id": "c", "token_endpoint": "t", "expires_at": "?"})):
        store.set(acc, damaged)
        with pytest.raises(NeedsSignIn):
            m.access_token(acc)
    # expired without a refresh token; and tokens of another client
    m.save(acc, Tokens("AT", None, 900.0, "c", "https://id.example/t"))
    with pytest.raises(NeedsSignIn, match="no refresh token"):
        m.access_token(acc)
    m.save(acc, Tokens("AT", "RT", 9999.0, "other-client", "https://id.example/t"))
    with pytest.raises(NeedsSignIn, match="settings changed"):
        m.access_token(acc)


def test_clean_removes_controls_and_bounds_length() -> None:
    assert clean("a\x1b[31mb\r\nc\u202ed\x00e") == "a [31mb c d e"
    assert len(clean("x" * 1000, 50)) == 50


def test_authorization_url_has_pkce_state_and_login_hint() -> None:
    acc = account({"provider": "microsoft", "client_id": "app-id"}, email="me@example.com")
    e = endpoints_for(acc)
    seen: list[str] = []
    cancel = threading.Event()

    def opener(url: str) -> None:
        seen.append(url)
        cancel.set()

    t0 = time.monotonic()
    with pytest.raises(SignInCancelled):
        loopback_sign_in(e, open_browser=opener, cancel=cancel, login_hint=acc.email)
    assert time.monotonic() - t0 < 5
    q = {k: v[0] for k, v in parse_qs(urlsplit(seen[0]).query).items()}
    assert seen[0].startswith("https://login.microsoftonline.com/common/oauth2/v2.0/authorize?")
    assert q["client_id"] == "app-id" and q["response_type"] == "code"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    # Azure registers desktop apps with http://localhost (any port); we listen on 127.0.0.1
    assert re.fullmatch(r"http://localhost:\d+/", q["redirect_uri"])
    assert len(q["state"]) >= 32 and q["login_hint"] == "me@example.com"
    assert q["scope"] == "https://outlook.office.com/POP.AccessAsUser.All offline_access"
