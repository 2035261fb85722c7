"""OAuth2 sign-in for accounts with ``"auth": "oauth2"`` (Microsoft, Google, any
OpenID/OAuth2 server): where the endpoints are, where the tokens live, and an
access token on demand.

* Endpoints: built-in for Microsoft and Google; a "custom" provider uses
  OpenID Connect discovery (``issuer/.well-known/openid-configuration``,
  then RFC 8414) or the endpoints given in the settings.
* Tokens (the refresh token included) live only in the keyring, one JSON
  entry per account (service ``traymail-oauth2``, user ``username@host:port``);
  never in settings, logs or transcripts (:class:`Tokens` masks its repr).
* :meth:`TokenManager.access_token` refreshes before expiry (a margin) and,
  with ``force_refresh``, once after the server rejected a token. A refresh
  token the server refuses (``invalid_grant``, RFC 6749 §5.2) makes the
  account :class:`NeedsSignIn`; that refresh token is never sent again (in
  memory, like a wrong password) -- a new sign-in clears it.

The HTTP and OAuth work is done by authlib (PKCE, refresh, error parsing) over
requests; the flows themselves are in :mod:`traymail.oauth_flows`.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .i18n import _
from .passwords import KeyringStore, MemoryStore, PasswordStore
from .settings import Account, AuthMethod, OAuth2Settings

if TYPE_CHECKING:
    import requests

__all__ = ["OAuth2Error", "OAuth2ConfigError", "NeedsSignIn", "Endpoints", "Tokens",
           "TokenManager", "endpoints_for", "access_token_for", "default_manager",
           "clean", "SERVICE", "MAX_RESPONSE"]

SERVICE = "traymail-oauth2"
#: the most an OAuth2 endpoint may send us (a token response is ~2 KB)
MAX_RESPONSE = 256 * 1024
HTTP_TIMEOUT = 30.0

MICROSOFT = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0"
PROVIDER_DEFAULTS: dict[str, dict[str, Any]] = {
    # https://learn.microsoft.com/exchange/client-developer/legacy-protocols/
    #   how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth
    "microsoft": {
        "authorization_endpoint": MICROSOFT + "/authorize",
        "token_endpoint": MICROSOFT + "/token",
        "device_authorization_endpoint": MICROSOFT + "/devicecode",
        "revocation_endpoint": None,
        "scopes": ("https://outlook.office.com/POP.AccessAsUser.All", "offline_access"),
        "extra": {},
    },
    # https://developers.google.com/identity/protocols/oauth2/native-app
    "google": {
        "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_endpoint": "https://oauth2.googleapis.com/token",
        "device_authorization_endpoint": "https://oauth2.googleapis.com/device/code",
        "revocation_endpoint": "https://oauth2.googleapis.com/revoke",
        "scopes": ("https://mail.google.com/",),
        # a refresh token is only issued with access_type=offline
        "extra": {"access_type": "offline", "prompt": "consent"},
    },
    "custom": {"scopes": (), "extra": {}},
}


class OAuth2Error(Exception):
    """A user-facing OAuth2 failure (one clear sentence, server text sanitised)."""


class OAuth2ConfigError(OAuth2Error):
    """The settings do not allow a sign-in (no client ID, no endpoint)."""


class NeedsSignIn(OAuth2Error):
    """No usable refresh token: the user must sign in again (no retry until then)."""


def clean(text: object, limit: int = 300) -> str:
    """Server text made safe for a terminal, log, toast or UI: no control or
    format characters (bidi overrides included), bounded length."""
    out = "".join(" " if unicodedata.category(c)[0] in "CZ" and c != " " else c
                  for c in str(text)[:limit * 2])
    out = " ".join(out.split())
    return out if len(out) <= limit else out[:limit - 1] + "…"


# -- endpoints ---------------------------------------------------------------------

@dataclass(frozen=True)
class Endpoints:
    """Everything a flow needs, resolved from the settings and the provider."""

    client_id: str
    client_secret: str | None
    scopes: tuple[str, ...]
    authorization_endpoint: str | None
    token_endpoint: str
    device_authorization_endpoint: str | None = None
    revocation_endpoint: str | None = None
    issuer: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    #: the host named in the loopback redirect (the server always listens on
    #: 127.0.0.1): Azure registers desktop apps with http://localhost
    redirect_host: str = "127.0.0.1"

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return (f"Endpoints(client_id={self.client_id!r}, token_endpoint="
                f"{self.token_endpoint!r}, scopes={self.scopes!r})")


_discovered: dict[str, dict[str, Any]] = {}
_discovery_lock = threading.Lock()


def bounded_session() -> requests.Session:
    """A requests session whose responses are capped at MAX_RESPONSE bytes
    and HTTP_TIMEOUT seconds per read (everything a server sends is bounded)."""
    from authlib.integrations.requests_client import OAuth2Session

    s = OAuth2Session(default_timeout=HTTP_TIMEOUT)
    s.hooks["response"].append(_cap_response)
    return s  # type: ignore[no-any-return]


def _cap_response(resp: requests.Response, **kw: object) -> requests.Response:
    """Read the body here, at most MAX_RESPONSE bytes (requests would read it all)."""
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_RESPONSE:
        resp.close()
        raise OAuth2Error(_("{url} sent a response of {size} bytes; refusing more than "
                            "256 KiB").format(url=clean(resp.url), size=declared))
    data = resp.raw.read(MAX_RESPONSE + 1, decode_content=True)
    if len(data) > MAX_RESPONSE:
        resp.close()
        raise OAuth2Error(_("{url} sent more than 256 KiB; refused").format(
            url=clean(resp.url)))
    resp._content = data
    resp._content_consumed = True  # type: ignore[attr-defined]
    return resp


def discover(issuer: str, session: requests.Session | None = None) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 §4 (then RFC 8414 §3); the ``issuer`` it
    names must be the one asked for (§4.3)."""
    import requests

    base = issuer.rstrip("/")
    with _discovery_lock:
        if base in _discovered:
            return _discovered[base]
    s = session or bounded_session()
    problems = []
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        try:
            resp = s.get(base + path, withhold_token=True)  # type: ignore[call-arg]
            if resp.status_code != 200:
                problems.append(f"{path}: HTTP {resp.status_code}")
                continue
            meta = resp.json()
        except (requests.RequestException, ValueError) as exc:
            problems.append(f"{path}: {clean(exc, 120)}")
            continue
        if not isinstance(meta, dict) or str(meta.get("issuer", "")).rstrip("/") != base:
            problems.append(f"{path}: not the metadata of {base}")
            continue
        with _discovery_lock:
            _discovered[base] = meta
        return meta
    raise OAuth2Error(_("cannot discover the OAuth2 endpoints of {url} ({problems})").format(
        url=clean(base), problems="; ".join(problems)))


def endpoints_for(account: Account, session: requests.Session | None = None) -> Endpoints:
    """The account's client ID, scopes and endpoints: settings first, then the
    provider's defaults, then (custom) discovery."""
    o = account.oauth2
    if account.auth is not AuthMethod.OAUTH2 or o is None:
        raise OAuth2ConfigError(_('account {account} does not use OAuth2 (set "auth": '
                                  '"oauth2" and an "oauth2" section)').format(
                                      account=account.name))
    if not o.client_id:
        raise OAuth2ConfigError(_no_client_id(account, o))
    defaults = PROVIDER_DEFAULTS.get(o.provider, PROVIDER_DEFAULTS["custom"])
    urls: dict[str, str | None] = {}
    for key in ("authorization_endpoint", "token_endpoint", "device_authorization_endpoint",
                "revocation_endpoint"):
        value = getattr(o, key) or defaults.get(key)
        urls[key] = value.format(tenant=o.tenant) if isinstance(value, str) else None
    if o.provider == "custom" and o.issuer and not all(
            urls[k] for k in ("authorization_endpoint", "token_endpoint")):
        meta = discover(o.issuer, session)
        for key in urls:
            if not urls[key] and isinstance(meta.get(key), str):
                urls[key] = meta[key]
    token = urls["token_endpoint"]
    if not token:
        raise OAuth2ConfigError(_('account {account}: no token endpoint (set "issuer" or '
                                  '"token_endpoint" in its "oauth2" section)').format(
                                      account=account.name))
    scopes = o.scopes or tuple(defaults["scopes"])
    if not scopes:
        raise OAuth2ConfigError(_('account {account}: set "scopes" in its "oauth2" section '
                                  "(the custom provider has no default)").format(
                                      account=account.name))
    return Endpoints(o.client_id, o.client_secret, scopes, urls["authorization_endpoint"],
                     token, urls["device_authorization_endpoint"],
                     urls["revocation_endpoint"], o.issuer, dict(defaults["extra"]),
                     "localhost" if o.provider == "microsoft" else "127.0.0.1")


def _no_client_id(account: Account, o: OAuth2Settings) -> str:
    where = {"microsoft": _("the Azure portal (App registrations, platform \"Mobile and "
                            "desktop applications\", redirect http://localhost)"),
             "google": _("the Google Cloud console (Credentials, OAuth client ID of type "
                         "\"Desktop app\")")}.get(o.provider) or _("your OAuth2 server")
    return _("account {account}: no OAuth2 client ID is configured. Register traymail "
             "as an app in {where} and put its ID in settings.json as "
             '"oauth2": {{"client_id": "..."}} of this account (see the README, "OAuth2")'
             ).format(account=account.name, where=where)


# -- tokens ------------------------------------------------------------------------

@dataclass(frozen=True)
class Tokens:
    """What the token endpoint gave us (RFC 6749 §5.1), plus where it came from."""

    access_token: str
    refresh_token: str | None
    expires_at: float | None
    client_id: str
    token_endpoint: str
    scope: str = ""
    token_type: str = "Bearer"

    def __repr__(self) -> str:
        return (f"Tokens(access_token=***, refresh_token={'***' if self.refresh_token else None}"
                f", expires_at={self.expires_at}, client_id={self.client_id!r})")

    __str__ = __repr__

    @classmethod
    def from_response(cls, data: Mapping[str, Any], endpoints: Endpoints,
                      previous_refresh: str | None = None, now: float | None = None) -> Tokens:
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise OAuth2Error(_("the token endpoint sent no access token"))
        refresh = data.get("refresh_token")
        expires_at = data.get("expires_at")
        expires_in = data.get("expires_in")
        if expires_in is not None:
            try:
                expires_at = (now if now is not None else time.time()) + float(expires_in)
            except (TypeError, ValueError):
                expires_at = None
        return cls(access, refresh if isinstance(refresh, str) and refresh else previous_refresh,
                   float(expires_at) if isinstance(expires_at, (int, float)) else None,
                   endpoints.client_id, endpoints.token_endpoint,
                   str(data.get("scope") or ""), str(data.get("token_type") or "Bearer"))

    def to_json(self) -> str:
        return json.dumps({"v": 1, "access_token": self.access_token,
                           "refresh_token": self.refresh_token, "expires_at": self.expires_at,
                           "client_id": self.client_id, "token_endpoint": self.token_endpoint,
                           "scope": self.scope, "token_type": self.token_type})

    @classmethod
    def from_json(cls, text: str) -> Tokens | None:
        try:
            d = json.loads(text)
            expires = d.get("expires_at")
            refresh = d.get("refresh_token")
            return cls(str(d["access_token"]), str(refresh) if refresh else None,
                       None if expires is None else float(expires),
                       str(d["client_id"]), str(d["token_endpoint"]), str(d.get("scope", "")),
                       str(d.get("token_type", "Bearer")))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None  # a damaged entry: sign in again


_memory_tokens = MemoryStore()


def default_token_store() -> PasswordStore:
    """The keyring (service ``traymail-oauth2``); memory only with the same
    opt-in as passwords (TRAYMAIL_PASSWORD_IN_MEMORY=1)."""
    if os.environ.get("TRAYMAIL_PASSWORD_IN_MEMORY") == "1":
        return _memory_tokens
    return KeyringStore(SERVICE)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenManager:
    """Access tokens on demand, one refresh at a time per account."""

    #: refresh when less than this is left (clock skew, a slow session)
    MARGIN = 120.0

    def __init__(self, store: PasswordStore | None = None, *, margin: float | None = None,
                 clock: Any = time.time) -> None:
        self.store = store if store is not None else default_token_store()
        self.margin = self.MARGIN if margin is None else margin
        self.clock = clock
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        #: refresh tokens the server refused, by account (digests, memory only)
        self._dead: dict[str, str] = {}
        #: how many refresh requests were sent (for tests and the log)
        self.refreshes = 0

    def _lock(self, account: Account) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(account.keyring_user, threading.Lock())

    def tokens(self, account: Account) -> Tokens | None:
        text = self.store.get(account)
        return Tokens.from_json(text) if text else None

    def save(self, account: Account, tokens: Tokens) -> None:
        self.store.set(account, tokens.to_json())
        with self._guard:
            self._dead.pop(account.keyring_user, None)

    def forget(self, account: Account) -> None:
        self.store.delete(account)

    def needs_sign_in(self, account: Account) -> bool:
        """True when no usable token is stored (or the stored one was refused)."""
        t = self.tokens(account)
        if t is None or (t.refresh_token is None and self._expired(t)):
            return True
        with self._guard:
            dead = self._dead.get(account.keyring_user)
        return dead is not None and t.refresh_token is not None and _digest(
            t.refresh_token) == dead

    def _expired(self, t: Tokens) -> bool:
        return t.expires_at is not None and t.expires_at - self.margin <= self.clock()

    def access_token(self, account: Account, *, force_refresh: bool = False,
                     session: requests.Session | None = None) -> str:
        """A valid access token: the stored one, or a refreshed one. Raises
        NeedsSignIn when the user must sign in; OAuth2Error for other trouble."""
        with self._lock(account):
            endpoints = endpoints_for(account, session)
            t = self.tokens(account)
            if t is None:
                raise NeedsSignIn(_("Sign in to {account}: no OAuth2 token is stored "
                                    "(Settings: Sign in…, or 'traymail sign-in')").format(
                                        account=account.name))
            if t.client_id != endpoints.client_id or t.token_endpoint != endpoints.token_endpoint:
                raise NeedsSignIn(_("Sign in again to {account}: its OAuth2 settings "
                                    "changed since the last sign-in").format(
                                        account=account.name))
            with self._guard:
                dead = self._dead.get(account.keyring_user)
            if t.refresh_token is not None and dead == _digest(t.refresh_token):
                # refused before: nothing is sent (not even the access token) until
                # a new sign-in stores other tokens
                raise NeedsSignIn(_("Sign in again to {account}: the server no longer "
                                    "accepts its sign-in").format(account=account.name))
            if not force_refresh and not self._expired(t):
                return t.access_token
            if t.refresh_token is None:
                raise NeedsSignIn(_("Sign in again to {account}: the access token "
                                    "expired and the server gave no refresh token").format(
                                        account=account.name))
            return self._refresh(account, endpoints, t, session).access_token

    def _refresh(self, account: Account, endpoints: Endpoints, t: Tokens,
                 session: requests.Session | None) -> Tokens:
        import requests
        from authlib.integrations.base_client.errors import OAuthError

        s = session or client_session(endpoints)
        self.refreshes += 1
        try:
            data = s.refresh_token(endpoints.token_endpoint,  # type: ignore[attr-defined]
                                   refresh_token=t.refresh_token)
        except OAuthError as exc:
            if exc.error in ("invalid_grant", "unauthorized_client", "invalid_client"):
                assert t.refresh_token is not None
                with self._guard:
                    self._dead[account.keyring_user] = _digest(t.refresh_token)
                raise NeedsSignIn(_("Sign in again to {account}: the server refused the "
                                    "stored sign-in ({error}: {reason}). "
                                    "Settings: Sign in…, or 'traymail sign-in'").format(
                                        account=account.name, error=clean(exc.error, 40),
                                        reason=clean(exc.description or _("no reason given"),
                                                     160))) from None
            raise OAuth2Error(_("refreshing the token of {account} failed: {error} {reason}")
                              .format(account=account.name, error=clean(exc.error, 40),
                                      reason=clean(exc.description or "", 160))) from None
        except requests.RequestException as exc:
            raise OAuth2Error(_("cannot reach {url}: {error}").format(
                url=clean(endpoints.token_endpoint), error=clean(type(exc).__name__))) from None
        new = Tokens.from_response(data, endpoints, t.refresh_token, self.clock())
        self.save(account, new)
        return new

    def revoke(self, account: Account, session: requests.Session | None = None) -> bool:
        """Sign out: revoke the refresh token where the provider allows it
        (RFC 7009), then forget the tokens. True when the server confirmed."""
        t = self.tokens(account)
        done = False
        if t is not None:
            try:
                e = endpoints_for(account, session)
                if e.revocation_endpoint and (t.refresh_token or t.access_token):
                    s = session or client_session(e)
                    resp = s.revoke_token(  # type: ignore[attr-defined]
                        e.revocation_endpoint, t.refresh_token or t.access_token,
                        token_type_hint="refresh_token" if t.refresh_token else "access_token")
                    done = resp.status_code == 200
            except Exception:  # signing out never fails because the server is away
                done = False
        self.forget(account)
        return done


def client_session(endpoints: Endpoints, **kw: Any) -> requests.Session:
    """An authlib OAuth2Session for this client (public client unless a secret
    is configured), with bounded responses."""
    from authlib.integrations.requests_client import OAuth2Session

    s = OAuth2Session(endpoints.client_id, endpoints.client_secret,
                      token_endpoint_auth_method=("client_secret_post" if endpoints.client_secret
                                                  else "none"),
                      scope=" ".join(endpoints.scopes), default_timeout=HTTP_TIMEOUT, **kw)
    s.hooks["response"].append(_cap_response)
    return s  # type: ignore[no-any-return]


_default: TokenManager | None = None
_default_lock = threading.Lock()


def default_manager() -> TokenManager:
    """The process-wide token manager (keyring-backed)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = TokenManager()
        return _default


def access_token_for(account: Account, *, force_refresh: bool = False) -> str:
    """The shell's ``auth xoauth2``/``auth oauthbearer``: the stored token, refreshed
    when needed. Raises NeedsSignIn / OAuth2Error / KeyringUnavailable."""
    return default_manager().access_token(account, force_refresh=force_refresh)

