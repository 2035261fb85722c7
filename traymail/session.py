"""One POP3 session for an account: connect (TLS as configured), log in,
and turn every failure into an account state the UI can show.

States follow the server's response codes (RFC 2449 §8, RFC 3206):
``[IN-USE]`` -> BUSY (retry next interval), ``[LOGIN-DELAY]`` -> WAITING,
``[AUTH]``/wrong password -> AUTH_FAILED (no retry until the settings or the
password change), ``[SYS/TEMP]`` and network trouble -> BACKOFF (exponential),
``[SYS/PERM]`` and missing TLS -> STOPPED. OAuth2 accounts: a refresh token
the provider refuses -> NEEDS_SIGN_IN (no retry until a new sign-in).
"""

from __future__ import annotations

import enum
import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .i18n import _, ngettext
from .passwords import KeyringUnavailable
from .pop3 import (
    POP3,
    POP3_SSL,
    AuthenticationError,
    CapabilityError,
    LoginDelayError,
    MailboxInUseError,
    PermanentFailure,
    POP3Error,
    RemoteProtocolError,
    ServerError,
    TemporaryFailure,
    TranscriptHook,
    TransportError,
    TransportTimeout,
)
from .settings import Account, AuthMethod, Security

if TYPE_CHECKING:
    import ssl

    from .oauth import TokenManager

__all__ = ["AccountState", "AccountStatus", "MailboxError", "connect", "StateTracker",
           "TokenSource", "log_in", "default_token_source"]

#: gives a valid OAuth2 access token for an account (may refresh it; raises
#: MailboxError when the user must sign in again)
TokenSource = Callable[[Account], str]


class AccountState(enum.Enum):
    IDLE = "idle"                # not checked yet
    OK = "ok"
    BUSY = "busy"                # [IN-USE]: another client holds the maildrop
    WAITING = "waiting"          # [LOGIN-DELAY]
    AUTH_FAILED = "auth-failed"  # wrong password: no retry until settings change
    BACKOFF = "backoff"          # [SYS/TEMP] or the network: retry later, slower each time
    STOPPED = "stopped"          # [SYS/PERM], no TLS, no password: needs the user
    ERROR = "error"              # a broken server reply or a local problem
    NEEDS_SIGN_IN = "needs-sign-in"  # OAuth2: the provider refused the stored sign-in


@dataclass(frozen=True)
class AccountStatus:
    state: AccountState = AccountState.IDLE
    message: str = ""
    #: wall-clock time before which polling should not try again
    retry_at: float | None = None
    checked_at: float | None = None


class MailboxError(Exception):
    """A user-facing failure of an engine operation (one clear sentence).

    ``cert_sha256`` is set when the server's certificate is not trusted: the
    UI can show it and offer to pin it for this account."""

    def __init__(self, message: str, state: AccountState = AccountState.ERROR,
                 cert_sha256: str | None = None) -> None:
        super().__init__(message)
        self.state = state
        self.cert_sha256 = cert_sha256


def ssl_context(account: Account) -> ssl.SSLContext:
    """Verification on (system store, host name); ``cafile`` for a private CA.
    A pinned certificate replaces CA verification by an exact fingerprint
    match (checked in :func:`connect` right after the handshake)."""
    import ssl  # only TLS accounts need it

    if account.pinned_sha256:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    try:
        return ssl.create_default_context(cafile=account.cafile or None)
    except (OSError, ssl.SSLError) as exc:
        raise MailboxError(_("cannot load the CA file {file}: {error}").format(
            file=account.cafile, error=exc), AccountState.STOPPED) from None


def _normal(fp: str) -> str:
    return fp.replace(":", "").replace(" ", "").upper()


def server_fingerprint(account: Account, timeout: float) -> str | None:
    """The certificate fingerprint of the server, without trusting it (to show)."""
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        if account.security is Security.SSL:
            pop: POP3 = POP3_SSL(account.host, account.effective_port, timeout=timeout,
                                 context=ctx)
        else:
            pop = POP3(account.host, account.effective_port, timeout=timeout)
            pop.stls(ctx)
        try:
            return pop.peer_sha256
        finally:
            pop.close()
    except (POP3Error, OSError):
        return None


def _untrusted(account: Account, exc: TransportError, timeout: float) -> MailboxError:
    fp = server_fingerprint(account, timeout)
    shown = _(" Its SHA-256 fingerprint is {fingerprint}.").format(fingerprint=fp) if fp else ""
    return MailboxError(
        _("the certificate of {host} is not trusted ({error}).{fingerprint} If you know this "
          "is your server's certificate, trust it for this account (Settings).").format(
            host=account.host, error=exc, fingerprint=shown),
        AccountState.STOPPED, cert_sha256=fp)


def _check_pin(account: Account, pop: POP3) -> None:
    if not account.pinned_sha256:
        return
    got = pop.peer_sha256
    if got is None or _normal(got) != _normal(account.pinned_sha256):
        pop.close()
        raise MailboxError(
            _("the certificate of {host} CHANGED: expected {expected}, got {got}. This may "
              "be an attack; nothing was sent. If the server really got a new certificate, "
              "trust the new one in Settings.").format(
                host=account.host, expected=account.pinned_sha256, got=got),
            AccountState.STOPPED, cert_sha256=got)


#: what OpenSSL says when the other side answers a ClientHello with plain text
_NOT_TLS = ("WRONG_VERSION_NUMBER", "wrong version number", "record layer failure",
            "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST")


def _plain_port(account: Account, exc: TransportError) -> TransportError:
    """A TLS handshake answered in plain text: say what to choose instead."""
    return type(exc)(f"the server does not speak TLS on port {account.effective_port} -- "
                     f"try STARTTLS on 110 or SSL/TLS on 995 ({exc})")


def _silent_port(account: Account, exc: TransportError) -> TransportError:
    """No greeting on a plain connection: a port that wants TLS first (RFC 8314 §3.3
    implicit TLS waits for the client's hello), or a very slow server."""
    return type(exc)(f"no greeting from the server on port {account.effective_port} ({exc}); "
                     "if this port expects TLS from the start, try SSL/TLS on 995")


def connect(account: Account, *, timeout: float, transcript: TranscriptHook | None,
            **limits: Any) -> POP3:
    """Open a connection with the account's security; STARTTLS never falls back.
    ``limits`` go to the client (``deadline``, ``min_rate``, ``secrets``...).
    A plain-text server on an SSL port (and the reverse) is named as such."""
    try:
        if account.security is Security.SSL:
            pop: POP3 = POP3_SSL(account.host, account.effective_port, timeout=timeout,
                                 context=ssl_context(account), transcript=transcript, **limits)
            _check_pin(account, pop)
            return pop
        pop = POP3(account.host, account.effective_port, timeout=timeout,
                   transcript=transcript, **limits)
    except TransportTimeout as exc:
        if account.security is not Security.SSL:
            raise _silent_port(account, exc) from exc
        raise
    except TransportError as exc:
        if "certificate" in str(exc):
            raise _untrusted(account, exc, timeout) from exc
        if account.security is Security.SSL and any(m in str(exc) for m in _NOT_TLS):
            raise _plain_port(account, exc) from exc
        raise
    if account.security is Security.STARTTLS:
        try:
            caps = pop.capa()
            if not caps.stls and caps.supported:
                raise CapabilityError(_("the server does not offer STLS; traymail will not "
                                        "send the password without TLS"))
            pop.stls(ssl_context(account))
            _check_pin(account, pop)
        except TransportError as exc:
            pop.close()
            if "certificate" in str(exc):
                raise _untrusted(account, exc, timeout) from exc
            if any(m in str(exc) for m in _NOT_TLS):
                raise _plain_port(account, exc) from exc
            raise
        except BaseException:
            pop.close()
            raise
    return pop


def log_in(pop: POP3, account: Account, secret: str) -> str:
    """Log in the way the account asks (``auth``); never another way.

    ``secret`` is the password (PASSWORD, PLAIN) or the access token
    (OAUTH2, as XOAUTH2 or OAUTHBEARER with the account's address)."""
    if account.auth is AuthMethod.PASSWORD:
        return pop.login(account.username, secret)
    if account.auth is AuthMethod.PLAIN:
        return pop.login(account.username, secret, mechanism="plain")
    mechanism = account.oauth2.mechanism if account.oauth2 else "xoauth2"
    return pop.login(account.sasl_user, secret, mechanism=mechanism)


def default_token_source(account: Account) -> str:
    """The stored access token (:func:`traymail.oauth.access_token_for`), refreshed
    when due; NeedsSignIn / OAuth2Error when the user must act or the provider is away."""
    from .oauth import access_token_for

    return access_token_for(account)


class StateTracker:
    """Maps outcomes to :class:`AccountStatus`, with back-off and the
    once-per-settings-change rule for wrong passwords."""

    MAX_BACKOFF = 3600.0

    def __init__(self, account: Account, one_off: bool = False) -> None:
        self.account = account
        #: a one-off test (Settings > Test connection): no retry promises in the text
        self.one_off = one_off
        self.status = AccountStatus()
        self._failures = 0
        self._auth_block: tuple[object, str] | None = None

    def _key(self, password: str) -> tuple[object, str]:
        digest = hashlib.sha256(password.encode("utf-8", "surrogatepass")).hexdigest()
        return (self.account.fingerprint(), digest)

    def gate(self, password: str) -> None:
        """Refuse to try a password the server already rejected (in memory only)."""
        if self._auth_block == self._key(password):
            raise MailboxError(self.status.message or _("login failed before; fix the "
                               "password or settings to try again"), AccountState.AUTH_FAILED)

    def _later(self, delay: float) -> str:
        return "" if self.one_off else _("; trying again in {minutes} min").format(
            minutes=f"{delay / 60:.0f}")

    def succeeded(self) -> None:
        self._failures = 0
        self._auth_block = None
        self.status = AccountStatus(AccountState.OK, "", None, time.time())

    def failed(self, exc: BaseException, password: str | None,
               login_delay: int | None = None) -> MailboxError:
        """Record a failure; return the MailboxError to raise."""
        now = time.time()
        interval = self.account.check_interval_minutes * 60
        host = self.account.host
        retry: float | None = now + interval
        # traymail.oauth is imported by OAuth2 accounts only: unloaded, none of
        # its errors can have been raised
        oauth = sys.modules.get("traymail.oauth")
        oauth_error: tuple[type[Exception], ...] = () if oauth is None else (oauth.OAuth2Error,)
        if isinstance(exc, MailboxError):
            err = exc
        elif isinstance(exc, AuthenticationError) and self.account.auth is AuthMethod.OAUTH2:
            if password is not None:  # the stored tokens: blocked until a new sign-in
                self._auth_block = self._key(password)
            err = MailboxError(_("login to {host} failed with a fresh OAuth2 token "
                                 "({reason}). Check the user name or e-mail address and that "
                                 "POP is enabled for this account, then sign in again.").format(
                host=host, reason=exc.text or _("no reason given")), AccountState.AUTH_FAILED)
        elif isinstance(exc, AuthenticationError):
            if password is not None:
                self._auth_block = self._key(password)
            then = (_("Check the user name and password.") if self.one_off else
                    _("Fix the password or settings; traymail will not try this password "
                      "again."))
            err = MailboxError(_("login to {host} failed ({reason}).").format(
                host=host, reason=exc.text or _("no reason given")) + " " + then,
                AccountState.AUTH_FAILED)
            retry = None
        elif oauth is not None and isinstance(exc, oauth.NeedsSignIn):
            err = MailboxError(str(exc), AccountState.NEEDS_SIGN_IN)
        elif oauth is not None and isinstance(exc, oauth.OAuth2ConfigError):
            err = MailboxError(str(exc), AccountState.STOPPED)
        elif isinstance(exc, oauth_error):  # the token endpoint is away or odd: later
            self._failures += 1
            delay = min(self.MAX_BACKOFF, 60.0 * 2 ** (self._failures - 1))
            retry = now + delay
            err = MailboxError(f"{exc}{self._later(delay)}", AccountState.BACKOFF)
        elif isinstance(exc, MailboxInUseError):
            later = "" if self.one_off else _("; trying again at the next check")
            err = MailboxError(_("the mailbox on {host} is in use by another program "
                                 "({reason})").format(host=host, reason=exc.text) + later,
                               AccountState.BUSY)
        elif isinstance(exc, LoginDelayError):
            wait = max(interval, float(login_delay or 0))
            retry = now + wait
            later = "" if self.one_off else _("; next try in {minutes} min").format(
                minutes=f"{wait / 60:.0f}")
            err = MailboxError(_("{host} asks to wait between logins ({reason})").format(
                host=host, reason=exc.text) + later, AccountState.WAITING)
        elif isinstance(exc, (TemporaryFailure, TransportError)):
            self._failures += 1
            delay = min(self.MAX_BACKOFF, 60.0 * 2 ** (self._failures - 1))
            retry = now + delay
            what = str(exc)  # a timeout says which operation and how slow
            err = MailboxError(f"{host}: {what}{self._later(delay)}", AccountState.BACKOFF)
        elif isinstance(exc, (PermanentFailure, CapabilityError, KeyringUnavailable)):
            err = MailboxError(f"{host}: {exc}", AccountState.STOPPED)
            retry = None
        elif isinstance(exc, RemoteProtocolError):
            err = MailboxError(_("{host} sent an invalid reply: {error}").format(
                host=host, error=exc), AccountState.ERROR)
        elif isinstance(exc, (ServerError, POP3Error)):
            err = MailboxError(f"{host}: {exc}", AccountState.ERROR)
        elif isinstance(exc, OSError):
            if exc.filename:
                text = _("local error ({file}): {error}").format(
                    file=exc.filename, error=exc.strerror or exc)
            else:
                text = _("local error: {error}").format(error=exc.strerror or exc)
            err = MailboxError(text, AccountState.ERROR)
        else:
            raise exc
        if err.state in (AccountState.AUTH_FAILED, AccountState.NEEDS_SIGN_IN):
            retry = None
        self.status = AccountStatus(err.state, str(err), retry, self.status.checked_at)
        return err


def oauth_login(pop: POP3, account: Account, token: str,
                refresh: Callable[[], str] | None,
                note: Callable[[str], None] | None = None,
                reconnect: Callable[[], POP3] | None = None) -> POP3:
    """Log in with XOAUTH2 or OAUTHBEARER (the account's ``oauth2.mechanism``).
    A token the server rejects is refreshed ONCE (``refresh``) and tried on a
    new connection (``reconnect``; some servers hang up after a failed AUTH);
    a second rejection raises AuthenticationError. Returns the connection."""
    try:
        log_in(pop, account, token)
        return pop
    except AuthenticationError:
        if refresh is None or reconnect is None:
            raise
        pop.close()
    if note is not None:
        note(_("the server refused the access token; refreshing it once"))
    token = refresh()
    pop = reconnect()
    try:
        log_in(pop, account, token)
    except BaseException:
        pop.close()
        raise
    return pop


def probe(account: Account, password: str | None, timeout: float = 15.0,
          transcript: TranscriptHook | None = None,
          tokens: TokenManager | None = None) -> str:
    """Test a connection (the Settings dialog's button): TLS, login, STAT.
    Touches no state; returns a one-line result or raises MailboxError.
    For an OAuth2 account ``password`` is the access token; when None, the
    stored one (``tokens``, the keyring by default), refreshed once after [AUTH]."""
    tracker = StateTracker(account, one_off=True)
    pop: POP3 | None = None
    try:
        manager: TokenManager | None = None
        if account.auth is AuthMethod.OAUTH2 and not password:
            from .oauth import default_manager

            manager = tokens or default_manager()
            password = manager.access_token(account)
        pop = connect(account, timeout=timeout, transcript=transcript, secrets=(password,))
        caps = pop.capabilities or pop.capa()
        if manager is not None:
            m = manager
            pop = oauth_login(pop, account, password or "",
                              lambda: m.access_token(account, force_refresh=True),
                              reconnect=lambda: connect(account, timeout=timeout,
                                                        transcript=transcript))
        else:
            log_in(pop, account, password or "")
        stat = pop.stat()
        pop.quit()
    except _probe_errors() as exc:
        raise tracker.failed(exc, None, None) from exc
    finally:
        if pop is not None:
            pop.close()
    tls = _("TLS") if account.security is not Security.NONE else _("NO encryption")
    extra = _(", login delay {seconds} s").format(seconds=caps.login_delay) \
        if caps.login_delay else ""
    from .i18n import format_size

    messages = ngettext("{n} message", "{n} messages", stat.count).format(n=stat.count)
    # TRANSLATORS: the result of "Test connection": "OK: 3 messages (4.5 KB), TLS"
    return _("OK: {messages} ({size}), {security}{delay}").format(
        messages=messages, size=format_size(stat.size), security=tls, delay=extra)


def _probe_errors() -> tuple[type[Exception], ...]:
    base: tuple[type[Exception], ...] = (POP3Error, OSError, MailboxError)
    oauth = sys.modules.get("traymail.oauth")
    return base if oauth is None else (*base, oauth.OAuth2Error)
