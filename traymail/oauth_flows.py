"""The two ways to sign in (no GUI imports; run them off the UI thread).

* :func:`loopback_sign_in` -- authorization code + PKCE (RFC 7636, S256) with
  a loopback redirect ``http://127.0.0.1:<port>/`` (RFC 8252 §7.3): a one-shot
  local HTTP server on a port the kernel picks, the system browser opened on
  the provider's page, ``state`` checked (RFC 6749 §10.12) and ``iss`` when
  sent (RFC 9207), a friendly "you can close this window" page, a timeout.
* :func:`start_device_sign_in` / :func:`finish_device_sign_in` -- the device
  authorization grant (RFC 8628): show the code and the link, poll the token
  endpoint at ``interval``, slower after ``slow_down`` (§3.5), stop on
  ``expired_token``/``access_denied`` or the code's lifetime.

:func:`sign_in` runs one of them for an account and stores the tokens.
"""

from __future__ import annotations

import http.server
import secrets
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .i18n import _
from .oauth import (
    Endpoints,
    OAuth2ConfigError,
    OAuth2Error,
    TokenManager,
    Tokens,
    clean,
    client_session,
    default_manager,
    endpoints_for,
)
from .settings import Account

__all__ = ["DeviceCode", "SignInCancelled", "loopback_sign_in", "start_device_sign_in",
           "finish_device_sign_in", "sign_in", "DONE_PAGE"]

Opener = Callable[[str], object]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DONE_PAGE = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>traymail</title></head>"
             "<body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{text}</p>"
             "</body></html>")


class SignInCancelled(OAuth2Error):
    """The user (or the caller's cancel event) stopped the sign-in."""


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class _Result:
    query: dict[str, str] | None = None


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers GET / with the provider's redirect; everything else is a 404."""

    server: _LoopbackServer
    timeout = 10  # a client that opens a connection and sends nothing

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/":
            self._send(404, _("Not found"), _html(_("This is traymail's sign-in helper.")))
            return
        query = {k: v[0] for k, v in parse_qs(parts.query, max_num_fields=20).items()}
        if query.get("state") != self.server.state:
            self._send(400, _("Sign-in not recognised"),
                       _html(_("This page does not belong to the sign-in traymail started.")))
            return
        if "error" in query:
            said = clean(query.get("error_description") or query["error"], 200)
            self._send(200, _("Sign-in not completed"),
                       _html(_("The provider said: {reason}. You can close this window and "
                               "try again from traymail.").format(reason=said)))
        else:
            self._send(200, _("Signed in to traymail"),
                       _html(_("You can close this window and return to traymail.")))
        self.server.result.query = query

    def _send(self, status: int, title: str, text: str) -> None:
        body = DONE_PAGE.format(title=_html(title), text=text).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the query holds the authorization code: never logged


class _LoopbackServer(http.server.HTTPServer):
    def __init__(self, state: str, host: str = "127.0.0.1") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.host = host
        self.state = state
        self.result = _Result()
        self.timeout = 0.2

    @property
    def redirect_uri(self) -> str:
        return f"http://{self.host}:{self.server_address[1]}/"


def loopback_sign_in(endpoints: Endpoints, *, open_browser: Opener = webbrowser.open,
                     on_url: Callable[[str], None] | None = None, timeout: float = 300.0,
                     cancel: threading.Event | None = None,
                     login_hint: str | None = None) -> dict[str, Any]:
    """Authorization code + PKCE through the system browser; returns the token
    response. ``on_url`` gets the URL too (to show it, or when no browser opens)."""
    from authlib.common.security import generate_token
    from authlib.integrations.base_client.errors import OAuthError

    if not endpoints.authorization_endpoint:
        raise OAuth2ConfigError(_("this provider has no authorization endpoint; use the "
                                  "device flow"))
    state = secrets.token_urlsafe(24)
    verifier = generate_token(64)  # RFC 7636 §4.1: 43..128 characters
    with _LoopbackServer(state, endpoints.redirect_host) as server:
        s = client_session(endpoints, redirect_uri=server.redirect_uri,
                           code_challenge_method="S256")
        extra = dict(endpoints.extra)
        if login_hint:
            extra["login_hint"] = login_hint
        url, _state = s.create_authorization_url(  # type: ignore[attr-defined]
            endpoints.authorization_endpoint, state=state, code_verifier=verifier, **extra)
        if on_url is not None:
            on_url(url)
        try:
            open_browser(url)
        except Exception:  # no browser: the URL was shown, the user can paste it
            pass
        deadline = time.monotonic() + timeout
        while server.result.query is None:
            if cancel is not None and cancel.is_set():
                raise SignInCancelled(_("sign-in cancelled"))
            if time.monotonic() > deadline:
                raise OAuth2Error(_("no answer from the browser within {seconds} s; "
                                    "sign-in stopped").format(seconds=f"{timeout:.0f}"))
            server.handle_request()
        query = server.result.query
        redirect = server.redirect_uri
    if "error" in query:
        raise OAuth2Error(_("sign-in refused: {error} ({reason})").format(
            error=clean(query['error'], 40),
            reason=clean(query.get('error_description') or _("no reason given"))))
    if endpoints.issuer and "iss" in query and \
            query["iss"].rstrip("/") != endpoints.issuer.rstrip("/"):  # RFC 9207 §2.4
        raise OAuth2Error(_("the answer came from another server than the one asked "
                            "({server}); sign-in stopped").format(server=clean(query['iss'])))
    if not query.get("code"):
        raise OAuth2Error(_("the provider's answer has no authorization code"))
    try:
        return s.fetch_token(  # type: ignore[attr-defined,no-any-return]
            endpoints.token_endpoint, grant_type="authorization_code", code=query["code"],
            redirect_uri=redirect, code_verifier=verifier, state=state)
    except OAuthError as exc:
        raise OAuth2Error(_("the token endpoint refused the sign-in: {error} {reason}").format(
            error=clean(exc.error, 40), reason=clean(exc.description or ''))) from None


@dataclass(frozen=True)
class DeviceCode:
    """RFC 8628 §3.2: what to show the user (``device_code`` stays private)."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: float
    interval: float
    device_code: str

    def __repr__(self) -> str:
        return (f"DeviceCode(user_code={self.user_code!r}, verification_uri="
                f"{self.verification_uri!r}, device_code=***)")

    @property
    def message(self) -> str:
        return _("Open {url} and enter the code {code}").format(url=self.verification_uri,
                                                                 code=self.user_code)


def _http_url(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = clean(value, 500)
    parts = urlsplit(text)
    return text if parts.scheme in ("https", "http") and parts.hostname and " " not in text \
        else None


def start_device_sign_in(endpoints: Endpoints, *, clock: Callable[[], float] = time.time
                         ) -> DeviceCode:
    """RFC 8628 §3.1: ask for a device code."""
    import requests

    if not endpoints.device_authorization_endpoint:
        raise OAuth2ConfigError(_("this provider has no device authorization endpoint; "
                                  "use the browser sign-in"))
    s = client_session(endpoints)
    data: dict[str, str] = {"client_id": endpoints.client_id,
                            "scope": " ".join(endpoints.scopes)}
    if endpoints.client_secret:
        data["client_secret"] = endpoints.client_secret
    try:
        resp = s.post(endpoints.device_authorization_endpoint, data=data,
                      withhold_token=True)  # type: ignore[call-arg]
        body = resp.json()
    except (requests.RequestException, ValueError) as exc:
        raise OAuth2Error(_("the device sign-in could not start: {error}").format(
            error=clean(exc, 160))) from None
    if not isinstance(body, dict) or resp.status_code != 200:
        err = body.get("error_description") or body.get("error") \
            if isinstance(body, dict) else f"HTTP {resp.status_code}"
        raise OAuth2Error(_("the device sign-in was refused: {error}").format(
            error=clean(err, 200)))
    # Google says verification_url (its pre-RFC name)
    uri = _http_url(body.get("verification_uri") or body.get("verification_url"))
    code, device = body.get("user_code"), body.get("device_code")
    if not (uri and isinstance(code, str) and code and isinstance(device, str) and device):
        raise OAuth2Error(_("the device authorization answer is incomplete"))
    try:
        expires_in = float(body.get("expires_in", 900))
        interval = float(body.get("interval", 5))
    except (TypeError, ValueError):
        raise OAuth2Error(_("the device authorization answer is malformed")) from None
    return DeviceCode(clean(code, 40), uri, _http_url(body.get("verification_uri_complete")),
                      clock() + min(expires_in, 3600.0), min(max(interval, 1.0), 60.0), device)


def finish_device_sign_in(endpoints: Endpoints, code: DeviceCode, *,
                          cancel: threading.Event | None = None,
                          clock: Callable[[], float] = time.time,
                          sleep: Callable[[float], object] | None = None) -> dict[str, Any]:
    """RFC 8628 §3.4-3.5: poll until the user approved, refused, or the code expired."""
    import requests
    from authlib.integrations.base_client.errors import OAuthError

    stop = cancel or threading.Event()
    wait = sleep or stop.wait
    interval = code.interval
    s = client_session(endpoints)
    while True:
        if stop.is_set():
            raise SignInCancelled(_("sign-in cancelled"))
        if clock() >= code.expires_at:
            raise OAuth2Error(_("the code expired before it was entered; start the sign-in "
                                "again"))
        wait(interval)
        if stop.is_set():
            raise SignInCancelled(_("sign-in cancelled"))
        try:
            return s.fetch_token(  # type: ignore[attr-defined,no-any-return]
                endpoints.token_endpoint, grant_type=DEVICE_GRANT,
                device_code=code.device_code)
        except OAuthError as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += 5  # §3.5: for this and all later requests
                continue
            if exc.error == "expired_token":
                raise OAuth2Error(_("the code expired before it was entered; start the "
                                    "sign-in again")) from None
            if exc.error == "access_denied":
                raise OAuth2Error(_("the sign-in was refused on the provider's page")) from None
            raise OAuth2Error(_("the device sign-in failed: {error} {reason}").format(
                error=clean(exc.error, 40), reason=clean(exc.description or ''))) from None
        except requests.RequestException as exc:
            raise OAuth2Error(_("cannot reach {url}: {error}").format(
                url=clean(endpoints.token_endpoint), error=clean(type(exc).__name__))) from None


def sign_in(account: Account, *, device: bool | None = None,
            manager: TokenManager | None = None, open_browser: Opener = webbrowser.open,
            on_url: Callable[[str], None] | None = None,
            on_device_code: Callable[[DeviceCode], None] | None = None,
            cancel: threading.Event | None = None, timeout: float = 300.0) -> Tokens:
    """Sign ``account`` in (the flow its settings name unless ``device`` says)
    and store the tokens in the keyring. Returns them (repr masked)."""
    m = manager or default_manager()
    endpoints = endpoints_for(account)
    assert account.oauth2 is not None
    use_device = account.oauth2.flow == "device" if device is None else device
    if use_device:
        code = start_device_sign_in(endpoints)
        if on_device_code is not None:
            on_device_code(code)
        data = finish_device_sign_in(endpoints, code, cancel=cancel)
    else:
        data = loopback_sign_in(endpoints, open_browser=open_browser, on_url=on_url,
                                timeout=timeout, cancel=cancel,
                                login_hint=account.email)
    # without a refresh token (some providers): usable until it expires, then
    # the account asks for a sign-in again
    tokens = Tokens.from_response(data, endpoints)
    m.save(account, tokens)
    return tokens
