"""Account settings from an e-mail address, the way Thunderbird finds them.

Steps, each with its own timeout, each reported (:class:`Step`):

1. the built-in table (:mod:`traymail.providers`);
2. Thunderbird autoconfig: ``https://autoconfig.<domain>/mail/config-v1.1.xml``,
   then ``https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml``, then
   the ISPDB (``<base>/<domain>``);
3. the domain's MX hosts: a provider's (Google Workspace, Microsoft 365...)
   or the ISPDB entry of the MX's domain;
4. a guess: ``pop.``, ``pop3.``, ``mail.<domain>`` on 995 (TLS) then 110
   (STLS), each probed: greeting + CAPA within a short timeout.

The first step that finds a POP3 server wins; a provider known to have no
POP (iCloud) ends the search with a result saying so. URLs, the resolver
and the probe are injectable (tests run all of it on loopback).
"""

from __future__ import annotations

import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final

from .i18n import N_, _
from .pop3 import POP3, POP3_SSL, POP3Error
from .providers import Provider, by_domain, by_mx

__all__ = ["Found", "Step", "Discovery", "Options", "discover", "parse_autoconfig",
           "split_address", "DiscoveryError"]

MAX_XML: Final = 64 * 1024
AUTOCONFIG_URLS: Final = (
    "https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={address}",
    "https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml",
)
ISPDB: Final = "https://autoconfig.thunderbird.net/v1.1/"
_SOCKET_TYPES: Final = {"SSL": "ssl", "STARTTLS": "starttls", "PLAIN": "none"}
_SECURITY_RANK: Final = {"ssl": 0, "starttls": 1, "none": 2}


class DiscoveryError(ValueError):
    """The address cannot be looked up (not an address, or a bad domain)."""


@dataclass(frozen=True)
class Found:
    """What discovery proposes for the account; the user may change all of it."""

    host: str | None          # None: this provider has no POP3 (see notes)
    port: int | None
    security: str             # "ssl" | "starttls" | "none"
    auth: str                 # "password" | "oauth2"
    provider: str             # a display name
    source: str               # "builtin" | "autoconfig" | "well-known" | "ispdb" | "mx" | "guess"
    notes: tuple[str, ...] = ()
    username: str | None = None
    oauth2_provider: str | None = None
    url: str | None = None    # help page

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["notes"] = list(self.notes)
        return d


@dataclass(frozen=True)
class Step:
    name: str       # what was tried: "built-in table", "autoconfig", "MX", "guess pop.x:995"...
    target: str     # the URL or host
    outcome: str    # what it found, in one line
    ok: bool = False
    seconds: float = 0.0

    def __str__(self) -> str:
        return f"{self.name} ({self.target}): {self.outcome}"


@dataclass(frozen=True)
class Discovery:
    address: str
    found: Found | None
    steps: tuple[Step, ...]


Fetch = Callable[[str, float], bytes]
MxLookup = Callable[[str, float], list[str]]
Probe = Callable[[str, int, str, float], str]


@dataclass
class Options:
    timeout: float = 6.0                  # each step
    autoconfig_urls: Sequence[str] = AUTOCONFIG_URLS
    ispdb: str | None = ISPDB             # None: skip the ISPDB
    guess_ports: dict[str, int] = field(default_factory=lambda: {"ssl": 995, "starttls": 110})
    guess_prefixes: Sequence[str] = ("pop", "pop3", "mail")
    fetch: Fetch | None = None            # default: http_get
    mx_lookup: MxLookup | None = None     # default: dns_mx
    probe: Probe | None = None            # default: probe_pop3
    ssl_context: ssl.SSLContext | None = None
    nameserver: tuple[str, int] | None = None  # for dns_mx (tests)


def split_address(address: str) -> tuple[str, str]:
    """(local part, ASCII domain) of an address, or DiscoveryError."""
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() or ord(c) < 32 for c in address):
        raise DiscoveryError(_("{address} is not an e-mail address (name@example.com)").format(
            address=repr(address)))
    try:
        ascii_domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise DiscoveryError(_("{domain} is not a valid domain name").format(
            domain=repr(domain))) from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(
            lab and len(lab) <= 63 and all(c.isalnum() or c == "-" for c in lab)
            for lab in labels):
        raise DiscoveryError(_("{domain} is not a valid domain name").format(domain=repr(domain)))
    return local, ascii_domain


def from_provider(p: Provider, source: str) -> Found:
    notes = p.notes + ((f"Help: {p.url}",) if p.url else ())
    return Found(p.host, p.port if p.pop else None, p.security, p.auth, p.name, source,
                 notes, "%EMAILADDRESS%", p.oauth2_provider, p.url)


# -- autoconfig (https://wiki.mozilla.org/Thunderbird:Autoconfiguration) ---------------
def http_get(url: str, timeout: float) -> bytes:
    """GET with a deadline and a size cap; only http(s)."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("not an http(s) URL")
    request = urllib.request.Request(url, headers={"User-Agent": "traymail autoconfig"})
    deadline = time.monotonic() + timeout
    with _OPENER.open(request, timeout=timeout) as response:
        data = b""
        while len(data) <= MAX_XML:
            if time.monotonic() > deadline:
                raise TimeoutError("too slow")
            chunk = response.read(8192)
            if not chunk:
                return data
            data += chunk
    raise ValueError(f"larger than {MAX_XML // 1024} KiB")


#: http(s) only: no file:, ftp: or data: (a redirect there fails: no handler)
_OPENER: Final = urllib.request.OpenerDirector()
for _handler in (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(),
                 urllib.request.HTTPSHandler(), urllib.request.HTTPRedirectHandler(),
                 urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPErrorProcessor()):
    _OPENER.add_handler(_handler)


def _fill(text: str, local: str, domain: str) -> str:
    return (text.replace("%EMAILADDRESS%", f"{local}@{domain}")
            .replace("%EMAILLOCALPART%", local).replace("%EMAILDOMAIN%", domain))


def parse_autoconfig(data: bytes, local: str, domain: str, source: str) -> Found | None:
    """The best POP3 server of a config-v1.1.xml document (None: it has none).

    Refuses DTDs (no entities, so no entity expansion) and big documents."""
    if len(data) > MAX_XML:
        raise ValueError("document too large")
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise ValueError("document has a DTD; refused")
    root = ET.fromstring(data)
    if root.tag != "clientConfig":
        raise ValueError(f"not a clientConfig document (root {root.tag!r})")
    provider = root.find("emailProvider")
    if provider is None:
        raise ValueError("no emailProvider")
    name = _clean((provider.findtext("displayName") or provider.findtext("displayShortName")
                   or provider.get("id") or domain).strip()[:80])
    candidates: list[tuple[int, int, Found]] = []
    for i, server in enumerate(provider.findall("incomingServer")):
        if server.get("type") != "pop3":
            continue
        host = _fill((server.findtext("hostname") or "").strip(), local, domain).lower()
        port_text = (server.findtext("port") or "").strip()
        security = _SOCKET_TYPES.get((server.findtext("socketType") or "").strip().upper())
        if (not _valid_host(host) or not port_text.isdigit() or not 0 < int(port_text) < 65536
                or security is None):
            continue
        methods = [(a.text or "").strip() for a in server.findall("authentication")]
        oauth = _oauth_provider(host)
        if "OAuth2" in methods and (oauth or not any(m.startswith("password")
                                                     for m in methods)):
            auth = "oauth2"
        elif any(m in ("password-cleartext", "plain", "") for m in methods) or not methods:
            auth = "password"
        else:
            continue  # CRAM-MD5, NTLM, GSSAPI... not supported
        username = _fill((server.findtext("username") or "%EMAILADDRESS%").strip(),
                         local, domain)
        if not username.isprintable() or len(username) > 254:  # escapes, controls: not
            username = f"{local}@{domain}"  # a user name; the address is the usual one
        notes = tuple(
            _clean(f"{(d.findtext('descr') or 'Instructions').strip()[:200]}: {d.get('url')}")
            for d in provider.findall("documentation")
            if (d.get("url") or "").startswith(("https://", "http://")))
        if security == "none":
            notes += (N_("This server offers POP3 only without encryption."),)
        found = Found(host, int(port_text), security, auth, name, source, notes,
                      username, oauth, None)
        candidates.append((_SECURITY_RANK[security], i, found))
    return min(candidates, key=lambda c: c[:2])[2] if candidates else None


def _clean(text: str) -> str:
    """Server-supplied text made safe to show (no control characters)."""
    return "".join(c if c.isprintable() else " " for c in text)


def _valid_host(host: str) -> bool:
    labels = host.split(".")
    return 0 < len(host) <= 253 and len(labels) >= 2 and all(
        lab and all(c.isalnum() or c == "-" for c in lab) for lab in labels)


def _oauth_provider(host: str) -> str | None:
    host = host.lower()
    if host in ("outlook.office365.com", "pop-mail.outlook.com", "outlook.office.com"):
        return "microsoft"
    if host == "pop.gmail.com":
        return "google"
    return None


# -- MX --------------------------------------------------------------------------------
def dns_mx(domain: str, timeout: float, nameserver: tuple[str, int] | None = None) -> list[str]:
    """MX host names by preference (dnspython; RFC 5321 §5.1)."""
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        resolver.nameservers = [nameserver[0]]
        resolver.port = nameserver[1]
    resolver.lifetime = timeout
    try:
        answer = resolver.resolve(domain, "MX")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        raise OSError(f"DNS: {exc.__class__.__name__}") from None
    records = sorted(answer, key=lambda r: r.preference)
    return [r.exchange.to_text(omit_final_dot=True).lower() for r in records
            if r.exchange.to_text() != "."]


def _mx_domain(host: str) -> str:
    return ".".join(host.split(".")[-2:])


# -- guess -----------------------------------------------------------------------------
def probe_pop3(host: str, port: int, security: str, timeout: float,
               context: ssl.SSLContext | None = None) -> str:
    """Connect, read the greeting, ask CAPA; the one-line outcome, or raise."""
    pop: POP3
    if security == "ssl":
        pop = POP3_SSL(host, port, timeout=timeout, context=context)
    else:
        pop = POP3(host, port, timeout=timeout)
    try:
        caps = pop.capa()
        if security == "starttls":
            if caps.supported and not caps.stls:
                raise POP3Error("no STLS: would send the password in plain text")
            pop.stls(context)
            caps = pop.capa()
        mechanisms = " ".join(caps.sasl)
        return "POP3 server" + (f", SASL {mechanisms}" if mechanisms else "")
    finally:
        pop.close()


# -- the whole search ------------------------------------------------------------------
def discover(address: str, *, offline: bool = False, options: Options | None = None,
             on_step: Callable[[Step], object] | None = None) -> Discovery:
    """Run the steps in order until one finds POP3 settings."""
    opts = options or Options()
    local, domain = split_address(address)
    steps: list[Step] = []

    def report(name: str, target: str, outcome: str, ok: bool, started: float) -> None:
        step = Step(name, target, outcome, ok, round(time.monotonic() - started, 3))
        steps.append(step)
        if on_step is not None:
            on_step(step)

    def done(found: Found | None) -> Discovery:
        return Discovery(f"{local}@{domain}", _filled(found, local, domain), tuple(steps))

    t = time.monotonic()
    provider = by_domain(domain)
    # step names and outcomes stay English in the data (JSON); the UI shows them through _()
    report(N_("built-in table"), domain, f"{provider.name}" if provider else N_("not listed"),
           provider is not None, t)
    if provider is not None:
        return done(from_provider(provider, "builtin"))
    if offline:
        return done(None)

    fetch = opts.fetch or http_get
    urls = [(u.format(domain=domain, address=urllib.parse.quote(f"{local}@{domain}")),
             "well-known" if "well-known" in u else "autoconfig")
            for u in opts.autoconfig_urls]
    if opts.ispdb:
        urls.append((opts.ispdb.rstrip("/") + "/" + domain, "ispdb"))
    for url, source in urls:
        found = _try_config(fetch, url, source, local, domain, opts.timeout, report)
        if found is not None:
            return done(found)

    t = time.monotonic()
    lookup = opts.mx_lookup or (lambda d, to: dns_mx(d, to, opts.nameserver))
    try:
        mx = lookup(domain, opts.timeout)
    except OSError as exc:
        report(N_("MX"), domain, f"failed: {exc}", False, t)
        mx = []
    else:
        report(N_("MX"), domain, ", ".join(mx[:3]) or N_("no MX records"), bool(mx), t)
    if mx:
        provider = by_mx(mx[0])
        if provider is not None:
            t = time.monotonic()
            report(N_("MX provider"), mx[0], provider.name, True, t)
            return done(from_provider(provider, "mx"))
        mx_domain = _mx_domain(mx[0])
        if opts.ispdb and mx_domain != domain:
            found = _try_config(fetch, opts.ispdb.rstrip("/") + "/" + mx_domain, "ispdb",
                                local, domain, opts.timeout, report)
            if found is not None:
                return done(found)

    probe = opts.probe or (lambda h, p, s, to: probe_pop3(h, p, s, to, opts.ssl_context))
    for prefix in opts.guess_prefixes:
        host = f"{prefix}.{domain}"
        for security in ("ssl", "starttls"):
            port = opts.guess_ports[security]
            t = time.monotonic()
            try:
                outcome = probe(host, port, security, opts.timeout)
            except (POP3Error, OSError) as exc:
                report(N_("guess"), f"{host}:{port}", _short(exc), False, t)
                if isinstance(exc, socket.gaierror):
                    break  # the name does not exist: no other port will help
                continue
            report(N_("guess"), f"{host}:{port}", outcome, True, t)
            return done(Found(host, port, security, "password", domain, "guess",
                              (N_("Found by trying common server names; check them."),),
                              f"{local}@{domain}"))
    return done(None)


def _try_config(fetch: Fetch, url: str, source: str, local: str, domain: str,
                timeout: float, report: Callable[[str, str, str, bool, float], None]
                ) -> Found | None:
    t = time.monotonic()
    shown = url.split("?")[0]
    try:
        data = fetch(url, timeout)
        found = parse_autoconfig(data, local, domain, source)
    except (OSError, ValueError, ET.ParseError) as exc:
        report(source, shown, _short(exc), False, t)
        return None
    if found is None:
        report(source, shown, N_("config found, but it lists no POP3 server"), False, t)
        return None
    report(source, shown, f"{found.host}:{found.port} {found.security}, {found.auth}", True, t)
    return found


def _filled(found: Found | None, local: str, domain: str) -> Found | None:
    if found is None or found.username is None:
        return found
    return replace(found, username=_fill(found.username, local, domain))


def _short(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, urllib.error.HTTPError):
        text = f"HTTP {exc.code}"
    elif isinstance(exc, urllib.error.URLError):
        text = str(exc.reason)
    return _clean(text)[:160]
