"""Account discovery: the built-in table (every provider, through the CLI),
Thunderbird autoconfig from a local HTTP server serving real-format XML,
MX through a local DNS server (dnspython talking UDP to a stub on
loopback), and the guess probed against the devserver."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from traymail.cli import main
from traymail.devserver import DevServer, MemoryMailbox
from traymail.discover import (
    DiscoveryError,
    Options,
    discover,
    dns_mx,
    parse_autoconfig,
    probe_pop3,
    split_address,
)
from traymail.providers import PROVIDERS

from .realservers import Certificate

DATA = Path(__file__).parent / "data" / "autoconfig"

# address -> (host, port, security, auth, provider): the providers' published settings
BUILTIN = {
    "someone@gmail.com": ("pop.gmail.com", 995, "ssl", "password", "Gmail"),
    "someone@googlemail.com": ("pop.gmail.com", 995, "ssl", "password", "Gmail"),
    "someone@outlook.com": ("outlook.office365.com", 995, "ssl", "oauth2", "Outlook.com"),
    "someone@hotmail.com": ("outlook.office365.com", 995, "ssl", "oauth2", "Outlook.com"),
    "someone@live.com": ("outlook.office365.com", 995, "ssl", "oauth2", "Outlook.com"),
    "someone@yahoo.com": ("pop.mail.yahoo.com", 995, "ssl", "password", "Yahoo Mail"),
    "someone@aol.com": ("pop.aol.com", 995, "ssl", "password", "AOL Mail"),
    "someone@icloud.com": (None, None, "ssl", "password", "iCloud Mail"),
    "someone@yandex.ru": ("pop.yandex.com", 995, "ssl", "password", "Yandex Mail"),
    "someone@mail.ru": ("pop.mail.ru", 995, "ssl", "password", "Mail.ru"),
    "someone@gmx.net": ("pop.gmx.net", 995, "ssl", "password", "GMX"),
    "someone@gmx.de": ("pop.gmx.net", 995, "ssl", "password", "GMX"),
    "someone@gmx.com": ("pop.gmx.com", 995, "ssl", "password", "GMX"),
    "someone@web.de": ("pop3.web.de", 995, "ssl", "password", "WEB.DE"),
    "someone@zoho.com": ("pop.zoho.com", 995, "ssl", "password", "Zoho Mail"),
    "someone@zoho.eu": ("pop.zoho.eu", 995, "ssl", "password", "Zoho Mail (EU)"),
    "someone@fastmail.com": ("pop.fastmail.com", 995, "ssl", "password", "Fastmail"),
}


@pytest.mark.parametrize("address", sorted(BUILTIN))
def test_discover_offline_json_for_every_builtin_provider(
        address: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["discover", "--offline", "--json", address])
    out = json.loads(capsys.readouterr().out)
    host, port, security, auth, provider = BUILTIN[address]
    assert (out["host"], out["port"], out["security"], out["auth"], out["provider"]) == (
        host, port, security, auth, provider)
    assert out["source"] == "builtin" and out["notes"]
    assert any(n.startswith("Help: https://") for n in out["notes"])
    assert rc == (0 if host else 1)
    if host is None:
        assert "no POP3" in out["notes"][0]
    else:
        assert out["username"] == address


def test_every_provider_is_covered_and_notes_say_what_to_do() -> None:
    covered = {discover(a, offline=True).found.provider  # type: ignore[union-attr]
               for a in BUILTIN}
    mx_only = {p.name for p in PROVIDERS if not p.domains}
    assert {p.name for p in PROVIDERS} == covered | mx_only
    gmail = discover("a@gmail.com", offline=True).found
    assert gmail is not None and "app password" in gmail.notes[0] and "POP" in gmail.notes[0]


def test_cli_text_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discover", "--offline", "x@nowhere.example"]) == 1
    assert "nothing found" in capsys.readouterr().out
    assert main(["discover", "--offline", "not an address"]) == 2
    assert "not an e-mail address" in capsys.readouterr().err
    assert main(["discover", "--offline", "bob@gmail.com"]) == 0
    text = capsys.readouterr().out
    assert "pop.gmail.com port 995" in text and "Help: https://support.google.com" in text


@pytest.mark.parametrize("bad", ["", "@x.org", "a@", "a@b", "a b@x.org", "a@x..org",
                                 "a@exa_mple.org", "a@x.org/evil"])
def test_bad_addresses(bad: str) -> None:
    with pytest.raises(DiscoveryError):
        split_address(bad)


def test_idn_domain() -> None:
    assert split_address("jörg@bücher.example") == ("jörg", "xn--bcher-kva.example")


# -- a local autoconfig / ISPDB web server ---------------------------------------------
class Web:
    def __init__(self) -> None:
        self.requests: list[str] = []
        self.routes: dict[str, bytes] = {}
        self.slow: set[str] = set()
        web = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                web.requests.append(self.path)
                path = self.path.split("?")[0]
                if path in web.slow:
                    time.sleep(3)
                body = web.routes.get(path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[Web]:
        """A started server, shut down and closed on leaving."""
        w = cls()
        w.thread.start()
        try:
            yield w
        finally:
            w.server.shutdown()
            w.server.server_close()

    def autoconfig(self, domain: str, file: str) -> None:
        self.routes[f"/autoconfig/{domain}/mail/config-v1.1.xml"] = (DATA / file).read_bytes()

    def options(self, **kw: Any) -> Options:
        base = f"http://127.0.0.1:{self.port}"
        kw.setdefault("mx_lookup", lambda domain, timeout: [])
        kw.setdefault("probe", refuse)
        return Options(
            timeout=kw.pop("timeout", 2.0),
            autoconfig_urls=(
                base + "/autoconfig/{domain}/mail/config-v1.1.xml?emailaddress={address}",
                base + "/wellknown/{domain}/.well-known/autoconfig/mail/config-v1.1.xml"),
            ispdb=base + "/ispdb/", **kw)


def refuse(host: str, port: int, security: str, timeout: float) -> str:
    raise socket.gaierror(-2, "Name or service not known")


@pytest.fixture
def web() -> Iterator[Web]:
    with Web.running() as w:
        yield w


def test_autoconfig_subdomain_prefers_pop3_over_ssl(web: Web) -> None:
    web.autoconfig("subdomain.example", "subdomain.example.xml")
    result = discover("tom.b@subdomain.example", options=web.options())
    f = result.found
    assert f is not None and f.source == "autoconfig" and f.provider == "Subdomain Example Mail"
    assert (f.host, f.port, f.security, f.auth, f.username) == (
        "pop.subdomain.example", 995, "ssl", "password", "tom.b")
    assert f.notes == ("Turn on POP access in the web mail settings: "
                       "https://help.subdomain.example/pop",)
    assert web.requests == ["/autoconfig/subdomain.example/mail/config-v1.1.xml"
                            "?emailaddress=tom.b%40subdomain.example"]
    assert [s.name for s in result.steps] == ["built-in table", "autoconfig"]
    assert result.steps[1].ok and "995 ssl" in result.steps[1].outcome


def test_well_known_then_ispdb(web: Web) -> None:
    web.routes["/wellknown/wellknown.example/.well-known/autoconfig/mail/config-v1.1.xml"] = (
        DATA / "wellknown.example.xml").read_bytes()
    web.routes["/ispdb/office.example"] = (DATA / "ispdb-office.example.xml").read_bytes()
    r = discover("ann@wellknown.example", options=web.options())
    assert r.found is not None and r.found.source == "well-known"
    assert (r.found.host, r.found.port, r.found.security) == ("mail.wellknown.example", 110,
                                                              "starttls")
    assert [s.outcome for s in r.steps][1] == "HTTP 404"
    r = discover("ann@office.example", options=web.options())
    f = r.found
    assert f is not None and f.source == "ispdb"
    assert (f.host, f.port, f.auth, f.oauth2_provider) == ("outlook.office365.com", 995,
                                                           "oauth2", "microsoft")
    assert [s.name for s in r.steps] == ["built-in table", "autoconfig", "well-known", "ispdb"]


def test_imap_only_and_hostile_documents_are_reported(web: Web) -> None:
    web.autoconfig("imaponly.example", "imaponly.example.xml")
    r = discover("a@imaponly.example", options=web.options())
    assert r.found is None
    outcomes = {s.name: s.outcome for s in r.steps}
    assert outcomes["autoconfig"] == "config found, but it lists no POP3 server"
    assert outcomes["MX"] == "no MX records" and "not known" in outcomes["guess"]
    assert [s.target for s in r.steps if s.name == "guess"] == [
        "pop.imaponly.example:995", "pop3.imaponly.example:995", "mail.imaponly.example:995"]

    web.autoconfig("entities.example", "entities.example.xml")
    r = discover("a@entities.example", options=web.options())
    assert "DTD" in r.steps[1].outcome and r.found is None
    web.routes["/autoconfig/big.example/mail/config-v1.1.xml"] = b"<clientConfig>" + (
        b"<x/>" * 20000) + b"</clientConfig>"
    r = discover("a@big.example", options=web.options())
    assert "larger than 64 KiB" in r.steps[1].outcome
    web.routes["/autoconfig/junk.example/mail/config-v1.1.xml"] = b"\x00\xffnot xml"
    r = discover("a@junk.example", options=web.options())
    assert r.steps[1].outcome and not r.steps[1].ok


def test_a_slow_server_costs_one_timeout(web: Web) -> None:
    web.autoconfig("slow.example", "subdomain.example.xml")
    web.slow.add("/autoconfig/slow.example/mail/config-v1.1.xml")
    started = time.monotonic()
    r = discover("a@slow.example", options=web.options(timeout=0.5))
    assert "timed out" in r.steps[1].outcome
    assert time.monotonic() - started < 2.5  # the other steps answer at once


@pytest.mark.parametrize("bad", ["\u202egro.elpmaxe@me", "me\n%EMAILLOCALPART%",
                                 "me\t@x.example"])
def test_a_user_name_with_controls_or_bidi_is_not_taken(bad: str) -> None:
    doc = ('<clientConfig version="1.1"><emailProvider id="x.example">'
           '<incomingServer type="pop3"><hostname>pop.x.example</hostname><port>995</port>'
           '<socketType>SSL</socketType><authentication>password-cleartext</authentication>'
           f'<username>{bad}</username></incomingServer></emailProvider></clientConfig>')
    found = parse_autoconfig(doc.encode(), "me", "x.example", "autoconfig")
    assert found is not None and found.username == "me@x.example"


@given(st.binary(max_size=400))
@settings(max_examples=60, deadline=None)
def test_parse_autoconfig_never_crashes(data: bytes) -> None:
    try:
        parse_autoconfig(data, "a", "x.example", "autoconfig")
    except (ValueError, SyntaxError):  # ET.ParseError is a SyntaxError
        pass


# -- MX through a local DNS server ------------------------------------------------------
class DnsStub:
    """Answers MX queries from a table over UDP on loopback (RFC 1035 §4)."""

    def __init__(self, mx: dict[str, list[str]]) -> None:
        self.mx = mx
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries: list[str] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text(omit_final_dot=True)
            self.queries.append(name)
            hosts = self.mx.get(name)
            if hosts is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.MX and hosts:
                response.answer.append(dns.rrset.from_text(
                    question.name, 300, "IN", "MX",
                    *(f"{10 * (i + 1)} {h}." for i, h in enumerate(hosts))))
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def dns_stub() -> Iterator[DnsStub]:
    stub = DnsStub({
        "corp.example": ["corp-example.mail.protection.outlook.com"],
        "gw.example": ["alt1.aspmx.l.google.com", "aspmx.l.google.com"],
        "isp.example": ["mx1.hoster.example"],
        "icloudcustom.example": ["mx01.mail.icloud.com"],
        "nomx.example": [],
    })
    yield stub
    stub.close()


def test_dns_mx_against_the_stub(dns_stub: DnsStub) -> None:
    ns = ("127.0.0.1", dns_stub.port)
    assert dns_mx("gw.example", 2, ns) == ["alt1.aspmx.l.google.com", "aspmx.l.google.com"]
    assert dns_mx("nowhere.example", 2, ns) == []
    assert dns_mx("nomx.example", 2, ns) == []


def test_custom_domains_recognised_by_mx(web: Web, dns_stub: DnsStub) -> None:
    web.routes["/ispdb/hoster.example"] = (DATA / "ispdb-hoster.example.xml").read_bytes()
    opts = web.options(mx_lookup=None, nameserver=("127.0.0.1", dns_stub.port))
    cases = {
        "me@corp.example": ("Microsoft 365", "outlook.office365.com", "oauth2", "mx"),
        "me@gw.example": ("Google Workspace", "pop.gmail.com", "oauth2", "mx"),
        "me@isp.example": ("Hoster Example", "pop.hoster.example", "password", "ispdb"),
        "me@icloudcustom.example": ("iCloud Mail", None, "password", "mx"),
    }
    for address, (provider, host, auth, source) in cases.items():
        r = discover(address, options=opts)
        f = r.found
        assert f is not None, [str(s) for s in r.steps]
        assert (f.provider, f.host, f.auth, f.source) == (provider, host, auth, source)
    assert {"corp.example", "gw.example", "isp.example"} <= set(dns_stub.queries)
    assert "/ispdb/hoster.example" in web.requests


# -- the guess, probed against the devserver ---------------------------------------------
def test_guess_probes_greeting_and_capa(web: Web, certificate: Certificate) -> None:
    with DevServer(MemoryMailbox(), ssl_context=certificate.server_context()) as tls, \
            DevServer(MemoryMailbox(), stls_context=certificate.server_context()) as stls:
        def probe(host: str, port: int, security: str, timeout: float) -> str:
            if not host.startswith("pop3."):
                raise socket.gaierror(-2, "Name or service not known")
            return probe_pop3("127.0.0.1", port, security, timeout,
                              certificate.client_context())

        opts = web.options(probe=probe, guess_ports={"ssl": tls.port, "starttls": stls.port})
        r = discover("me@guess.example", options=opts)
        f = r.found
        assert f is not None and f.source == "guess"
        assert (f.host, f.port, f.security) == ("pop3.guess.example", tls.port, "ssl")
        guesses = [s for s in r.steps if s.name == "guess"]
        assert [s.ok for s in guesses] == [False, True]
        assert "SASL PLAIN XOAUTH2 OAUTHBEARER" in guesses[1].outcome
        assert tls.commands == ["CAPA"]  # probed, never logged in

        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))  # a port nobody listens on
        opts.guess_ports = {"ssl": closed.getsockname()[1], "starttls": stls.port}
        r = discover("me@guess.example", options=opts)
        closed.close()
        f = r.found
        assert f is not None and (f.port, f.security) == (stls.port, "starttls")
        assert stls.commands == ["CAPA", "STLS", "CAPA"]
