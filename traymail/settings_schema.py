"""The settings' schema: accounts and options as frozen dataclasses, and the
rules a ``settings.json`` document follows.

:func:`parse_settings` validates a decoded document and raises
:class:`SettingsError` naming the first field at fault;
:func:`settings_to_json` writes settings back. Reading and writing the file,
and where it lives: :mod:`traymail.settings`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Set
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .i18n import AUTO, _, available_languages

if TYPE_CHECKING:
    from .ruleset import RuleSet

__all__ = [
    "SCHEMA_VERSION",
    "Security",
    "AuthMethod",
    "OAuth2Settings",
    "Account",
    "Settings",
    "SettingsError",
    "check_object",
    "check_quiet_hours",
    "parse_settings",
    "settings_to_json",
]

SCHEMA_VERSION = 1


class SettingsError(Exception):
    """The settings are invalid; ``field`` names the culprit."""

    def __init__(self, field: str, problem: str, path: Path | None = None) -> None:
        self.field = field
        self.problem = problem
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{field}: {problem}")


class Security(enum.StrEnum):
    SSL = "ssl"            # implicit TLS, port 995 (RFC 8314)
    STARTTLS = "starttls"  # STLS on port 110 (RFC 2595)
    NONE = "none"          # plain text: needs allow_insecure


class AuthMethod(enum.StrEnum):
    """How an account logs in."""

    PASSWORD = "password"  # USER/PASS (RFC 1939 section 7)
    PLAIN = "plain"        # AUTH PLAIN (RFC 5034, RFC 4616)
    OAUTH2 = "oauth2"      # AUTH XOAUTH2 or OAUTHBEARER (RFC 7628) with an access token


OAUTH2_PROVIDERS = ("microsoft", "google", "custom")
OAUTH2_MECHANISMS = ("xoauth2", "oauthbearer")
OAUTH2_FLOWS = ("loopback", "device")
_OAUTH2_URLS = ("issuer", "authorization_endpoint", "token_endpoint",
                "device_authorization_endpoint", "revocation_endpoint")


@dataclass(frozen=True)
class OAuth2Settings:
    """OAuth2 sign-in of an account; unset fields take the provider's defaults."""

    provider: str = "custom"          # "microsoft" | "google" | "custom"
    client_id: str | None = None
    client_secret: str | None = None  # only for providers that issue one to desktop apps
    tenant: str = "common"            # Microsoft: "common", "consumers", "organizations" or an id
    scopes: tuple[str, ...] = ()
    mechanism: str = "xoauth2"        # "xoauth2" | "oauthbearer" (RFC 7628)
    flow: str = "loopback"            # "loopback" (RFC 8252 + PKCE) | "device" (RFC 8628)
    issuer: str | None = None         # OpenID Connect discovery base
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    revocation_endpoint: str | None = None


@dataclass(frozen=True)
class Account:
    name: str
    host: str
    username: str
    security: Security = Security.SSL
    port: int | None = None
    cafile: str | None = None
    check_interval_minutes: float = 5
    download_dir: str | None = None
    enabled: bool = True
    allow_insecure: bool = False
    #: SHA-256 fingerprint of a pinned (e.g. self-signed) certificate
    pinned_sha256: str | None = None
    #: the e-mail address (discovery; the XOAUTH2/OAUTHBEARER user when set)
    email: str | None = None
    auth: AuthMethod = AuthMethod.PASSWORD
    oauth2: OAuth2Settings | None = None
    #: new-mail sound: None (off), "default" (the shipped chime) or a .wav path
    sound: str | None = None

    @property
    def sasl_user(self) -> str:
        """The user named in an OAuth2 SASL exchange: the address, else the user name."""
        return self.email or self.username

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 995 if self.security is Security.SSL else 110

    @property
    def keyring_user(self) -> str:
        """The keyring entry: ``username@host:port``."""
        return f"{self.username}@{self.host}:{self.effective_port}"

    def fingerprint(self) -> tuple[object, ...]:
        """What a connection depends on (a change re-allows a failed login)."""
        return (self.host, self.effective_port, self.security, self.username, self.cafile,
                self.pinned_sha256, self.email, self.auth, self.oauth2)


@dataclass(frozen=True)
class Settings:
    accounts: tuple[Account, ...] = ()
    notifications: bool = True
    start_with_system: bool = False
    #: "auto" (the OS's language) or a language code with a catalog ("en", "ru")
    language: str = "auto"
    # -- rules and sound (traymail.rules, traymail.sound) --
    rules: RuleSet = field(default_factory=lambda: _empty_rules())
    #: "HH:MM-HH:MM" (may wrap midnight): no sound then; None: never quiet
    quiet_hours: str | None = None

    def account(self, name: str | None = None) -> Account:
        """The named account, or the first one."""
        if not self.accounts:
            raise SettingsError("accounts", _("no account is configured"))
        if name is None:
            return self.accounts[0]
        for acc in self.accounts:
            if acc.name == name:
                return acc
        names = ", ".join(a.name for a in self.accounts)
        raise SettingsError("account", _("no account named {name} (have: {names})").format(
            name=repr(name), names=names))

    def with_account(self, account: Account) -> Settings:
        """A copy with ``account`` added, or replacing the one of that name."""
        if any(a.name == account.name for a in self.accounts):
            accounts = tuple(account if a.name == account.name else a for a in self.accounts)
        else:
            accounts = (*self.accounts, account)
        return replace(self, accounts=accounts)


# -- validation ------------------------------------------------------------------

_ACCOUNT_FIELDS = {f for f in Account.__dataclass_fields__}
_GLOBAL_FIELDS = {"schema_version", "accounts", "notifications", "start_with_system",
                  "language", "rules", "friends", "blocked", "quiet_hours"}


def _empty_rules() -> RuleSet:
    from .ruleset import RuleSet

    return RuleSet()


def check_quiet_hours(value: object, where: str = "quiet_hours") -> str | None:
    """``"HH:MM-HH:MM"`` (24-hour, may wrap midnight) or None."""
    if value is None:
        return None
    import re

    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", value) \
        if isinstance(value, str) else None
    if m is None or int(m[1]) > 23 or int(m[3]) > 23 or int(m[2]) > 59 or int(m[4]) > 59:
        raise SettingsError(where, _('must be like "22:00-07:00" (24-hour clock) or null'))
    return f"{int(m[1]):02d}:{m[2]}-{int(m[3]):02d}:{m[4]}"


def _check_host(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(where, _("must be a host name or IP address"))
    host = value.strip()
    if any(c.isspace() for c in host) or "/" in host or len(host) > 253:
        raise SettingsError(where, _("{host} is not a valid host name or IP address").format(
            host=repr(host)))
    return host.strip("[]")


_OAUTH2_FIELDS = {f for f in OAuth2Settings.__dataclass_fields__}


def _check_url(value: object, where: str) -> str:
    from urllib.parse import urlsplit

    if not isinstance(value, str) or any(c.isspace() for c in value):
        raise SettingsError(where, _("must be an http(s) URL"))
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(where, _("{url} is not an http(s) URL").format(url=repr(value)))
    return value


def check_object(data: object, where: str, fields: Set[str]) -> Mapping[Any, Any]:
    """``data`` if it is a JSON object whose keys are all in ``fields``
    (keys starting with "_" are comments); else a SettingsError at ``where``."""
    if not isinstance(data, Mapping):
        raise SettingsError(where, _("must be an object"))
    unknown = {k for k in data if not str(k).startswith("_")} - fields
    if unknown:
        raise SettingsError(f"{where}.{sorted(unknown)[0]}", _("unknown field"))
    return data


def _oauth2(data: object, where: str) -> OAuth2Settings:
    data = check_object(data, where, _OAUTH2_FIELDS)
    choices = {"provider": OAUTH2_PROVIDERS, "mechanism": OAUTH2_MECHANISMS,
               "flow": OAUTH2_FLOWS}
    values: dict[str, Any] = {}
    for key, allowed in choices.items():
        if key in data:
            if data[key] not in allowed:
                # TRANSLATORS: {choices} is a list like "a" or "b" (joined by " or ")
                raise SettingsError(f"{where}.{key}",
                                    _("must be {choices}").format(
                                        choices=_(" or ").join(f'"{a}"' for a in allowed)))
            values[key] = data[key]
    for key in ("client_id", "client_secret"):
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise SettingsError(f"{where}.{key}", _("must be a non-empty text or null"))
        values[key] = value
    tenant = data.get("tenant", "common")
    if not isinstance(tenant, str) or not tenant or any(c in tenant for c in "/?#\\ "):
        raise SettingsError(f"{where}.tenant", _("must be a tenant name or id"))
    values["tenant"] = tenant
    scopes = data.get("scopes", ())
    if (not isinstance(scopes, (list, tuple))
            or not all(isinstance(x, str) and x and not any(c.isspace() for c in x)
                       for x in scopes)):
        raise SettingsError(f"{where}.scopes", _("must be a list of scope names without spaces"))
    values["scopes"] = tuple(scopes)
    for key in _OAUTH2_URLS:
        if data.get(key) is not None:
            values[key] = _check_url(data[key], f"{where}.{key}")
    result = OAuth2Settings(**values)
    if result.provider == "custom" and not (result.issuer or result.token_endpoint):
        raise SettingsError(f"{where}.issuer", _('a "custom" provider needs "issuer" '
                                                   '(OpenID discovery) or "token_endpoint"'))
    return result


def _account(data: object, i: int) -> Account:
    where = f"accounts[{i}]"
    data = check_object(data, where, _ACCOUNT_FIELDS)
    for req in ("name", "host", "username"):
        if req not in data:
            raise SettingsError(f"{where}.{req}", _("is required"))
    name, user = data["name"], data["username"]
    if not isinstance(name, str) or not name.strip():
        raise SettingsError(f"{where}.name", _("must be a non-empty text"))
    if not isinstance(user, str) or not user or any(c in user for c in "\r\n\0"):
        raise SettingsError(f"{where}.username",
                            _("must be a non-empty text without line breaks"))
    try:
        security = Security(data.get("security", "ssl"))
    except ValueError:
        raise SettingsError(f"{where}.security",
                            _('must be "ssl", "starttls" or "none"')) from None
    port = data.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)
                             or not 1 <= port <= 65535):
        raise SettingsError(f"{where}.port", _("must be a whole number from 1 to 65535"))
    interval = data.get("check_interval_minutes", 5)
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < 1:
        raise SettingsError(f"{where}.check_interval_minutes",
                            _("must be a number of minutes, at least 1"))
    for key in ("enabled", "allow_insecure"):
        if key in data and not isinstance(data[key], bool):
            raise SettingsError(f"{where}.{key}", _("must be true or false"))
    for key in ("cafile", "download_dir", "pinned_sha256"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise SettingsError(f"{where}.{key}", _("must be a text or null"))
    allow_insecure = bool(data.get("allow_insecure", False))
    if security is Security.NONE and not allow_insecure:
        raise SettingsError(f"{where}.security",
                            _('"none" sends the password in plain text; '
                              'set "allow_insecure": true to accept that'))
    email = data.get("email")
    if email is not None and (not isinstance(email, str) or email.count("@") != 1
                              or not all(email.split("@"))
                              or any(c.isspace() or ord(c) < 32 for c in email)):
        raise SettingsError(f"{where}.email",
                            _("must be an e-mail address like name@example.com"))
    try:
        auth = AuthMethod(data.get("auth", "password"))
    except ValueError:
        raise SettingsError(f"{where}.auth",
                            _('must be "password", "plain" or "oauth2"')) from None
    oauth2 = None
    if data.get("oauth2") is not None:
        oauth2 = _oauth2(data["oauth2"], f"{where}.oauth2")
    elif auth is AuthMethod.OAUTH2:
        raise SettingsError(f"{where}.oauth2", _('is required when "auth" is "oauth2" '
                                                   '(at least {"provider": "microsoft"} or '
                                                   '"google")'))
    sound = data.get("sound")
    if sound is not None and (not isinstance(sound, str) or not sound.strip()):
        raise SettingsError(f"{where}.sound",
                            _('must be null (off), "default" or a .wav path'))
    cafile = data.get("cafile")
    if cafile and not Path(cafile).expanduser().is_file():
        raise SettingsError(f"{where}.cafile", _("no such file: {path}").format(path=cafile))
    return Account(
        name=name.strip(), host=_check_host(data["host"], f"{where}.host"), username=user,
        security=security, port=port, cafile=cafile,
        check_interval_minutes=float(interval), download_dir=data.get("download_dir"),
        enabled=bool(data.get("enabled", True)), allow_insecure=allow_insecure,
        pinned_sha256=data.get("pinned_sha256"), email=email, auth=auth, oauth2=oauth2,
        sound=sound,
    )


def parse_settings(data: object) -> Settings:
    """Validate a decoded settings document."""
    if not isinstance(data, Mapping):
        raise SettingsError("(top level)", _("must be a JSON object"))
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise SettingsError("schema_version",
                            _("is {value}; this traymail reads version {version}").format(
                                value=repr(version), version=SCHEMA_VERSION))
    unknown = {k for k in data if not str(k).startswith("_")} - _GLOBAL_FIELDS
    if unknown:  # keys starting with "_" are comments
        raise SettingsError(sorted(unknown)[0], _("unknown field"))
    raw_accounts = data.get("accounts", [])
    if not isinstance(raw_accounts, list):
        raise SettingsError("accounts", _("must be a list"))
    accounts = tuple(_account(a, i) for i, a in enumerate(raw_accounts))
    names = [a.name for a in accounts]
    for n in names:
        if names.count(n) > 1:
            raise SettingsError("accounts", _("two accounts are named {name}").format(
                name=repr(n)))
    for key in ("notifications", "start_with_system"):
        if key in data and not isinstance(data[key], bool):
            raise SettingsError(key, _("must be true or false"))
    if any(key in data for key in ("rules", "friends", "blocked")):
        from .rules import parse_rules

        rules = parse_rules(data, names)
    else:  # (no rules: traymail.rules is not even imported)
        rules = _empty_rules()
    return Settings(accounts, bool(data.get("notifications", True)),
                    bool(data.get("start_with_system", False)),
                    language=_language(data.get("language", AUTO)),
                    rules=rules,
                    quiet_hours=check_quiet_hours(data.get("quiet_hours")))


def _language(value: object) -> str:
    """``auto`` or a language traymail has a catalog for."""
    choices = (AUTO, *available_languages())
    if not isinstance(value, str) or value not in choices:
        raise SettingsError("language", _("is {value}; choose one of: {choices}").format(
            value=repr(value), choices=", ".join(choices)))
    return value


def settings_to_json(settings: Settings) -> dict[str, Any]:
    from .rules import rules_to_json

    accounts = []
    for acc in settings.accounts:
        d = asdict(acc)
        d["security"] = acc.security.value
        d["auth"] = acc.auth.value
        if acc.auth is AuthMethod.PASSWORD:
            del d["auth"]  # the default: files from before "auth" existed stay the same
        if acc.oauth2 is not None:
            d["oauth2"] = {k: (list(v) if isinstance(v, tuple) else v)
                           for k, v in d["oauth2"].items() if v is not None}
        accounts.append({k: v for k, v in d.items() if v is not None})
    return {"schema_version": SCHEMA_VERSION, "accounts": accounts,
            "notifications": settings.notifications,
            "start_with_system": settings.start_with_system,
            "language": settings.language,
            **({"quiet_hours": settings.quiet_hours} if settings.quiet_hours else {}),
            **{k: v for k, v in rules_to_json(settings.rules).items() if v}}
