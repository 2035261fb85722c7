"""The OAuth2 test bed: a real OpenID/OAuth2 server (npm ``oidc-provider``,
tests/oidc/server.mjs) and a private Dovecot whose ``oauth2`` passdb checks
tokens against it by introspection (RFC 7662), next to a passwd-file passdb
for PLAIN. Both on 127.0.0.1, ports picked by the kernel, stopped by PID.

``browser_sign_in`` is the browser step done by a real HTTP client: it follows
the provider's redirects, posts the login and consent forms, and lands on
traymail's loopback redirect. ``chromium_sign_in`` does the same in headless
Debian Chromium driven over the DevTools protocol (a pipe, no extra package).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from .realservers import DOVECOT, Dovecot, make_certificate, require_real, stop_group

OIDC_DIR = Path(__file__).parent / "oidc"
NODE = shutil.which("node") or "/usr/bin/node"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CLIENT_ID = "traymail-test"
DOVECOT_SECRET = "dovecot-introspection-secret"
USERS = 20


class OIDCServer:
    """tests/oidc/server.mjs in its own process group."""

    def __init__(self, users: dict[str, str], access_ttl: int = 300) -> None:
        if not os.path.exists(NODE):
            require_real("Node.js", "install the Debian package nodejs (Node 20+)")
        if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
            require_real("oidc-provider", "run scripts/test (npm ci in tests/oidc)")
        conf = {"users": users, "accessTokenTTL": access_ttl, "dovecotSecret": DOVECOT_SECRET}
        self.log = tempfile.NamedTemporaryFile(prefix="traymail-oidc-", suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen([NODE, "server.mjs", json.dumps(conf)], cwd=OIDC_DIR,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.log, start_new_session=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError("oidc server did not start: " + self.log_text())
        self.issuer: str = json.loads(line)["issuer"]
        self.default_ttl = access_ttl

    def log_text(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.issuer + "/_test/stats", timeout=10) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def grants(self, grant_type: str) -> int:
        return int(self.stats()["grants"].get(grant_type, 0))

    def token_requests(self) -> int:
        return int(self.stats()["requests"].get("/token", 0))

    def set_access_ttl(self, seconds: int) -> None:
        req = urllib.request.Request(f"{self.issuer}/_test/ttl?seconds={seconds}",
                                     method="POST")
        urllib.request.urlopen(req, timeout=10).close()

    def token_faults(self, *errors: str) -> None:
        """The next token requests get these errors (e.g. slow_down)."""
        req = urllib.request.Request(
            f"{self.issuer}/_test/token-faults?errors={','.join(errors)}", method="POST")
        urllib.request.urlopen(req, timeout=10).close()

    def introspect(self, token: str) -> dict[str, Any]:
        import base64

        req = urllib.request.Request(
            self.issuer + "/token/introspection", data=f"token={token}".encode(),
            headers={"Authorization": "Basic " + base64.b64encode(
                f"dovecot:{DOVECOT_SECRET}".encode()).decode(),
                "Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def revoke(self, token: str) -> None:
        """RFC 7009 as the client would (public client: client_id in the body)."""
        req = urllib.request.Request(
            self.issuer + "/token/revocation",
            data=f"token={token}&client_id={CLIENT_ID}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        urllib.request.urlopen(req, timeout=10).close()

    def stop(self) -> None:
        stop_group(self.proc, 5)
        os.unlink(self.log.name)


class OAuthDovecot(Dovecot):
    """A Dovecot with ``auth_mechanisms = plain xoauth2 oauthbearer``: the
    ``oauth2`` passdb introspects tokens at the OIDC server, passwd-file
    serves PLAIN. Same users and maildirs layout as :class:`Dovecot`."""

    def __init__(self, root: Path, issuer: str) -> None:
        super().__init__(root, make_certificate(root / "ssl"))
        self.issuer = issuer

    #: only these users are in passwd-file (and known to the OIDC server)
    MAX_ACCOUNTS = USERS
    INSTANCE = "traymail-oauth-test"

    def start(self) -> None:
        oauth = self.root / "dovecot-oauth2.conf.ext"
        host = self.issuer.split("//", 1)[1]
        oauth.write_text(f"""introspection_mode = post
introspection_url = http://dovecot:{DOVECOT_SECRET}@{host}/token/introspection
force_introspection = yes
username_attribute = sub
active_attribute = active
active_value = true
""")
        oauth.chmod(0o644)
        super().start()

    def _auth_conf(self) -> str:
        return f"""auth_mechanisms = plain xoauth2 oauthbearer
auth_failure_delay = 0
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {self.root / "dovecot-oauth2.conf.ext"}
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN {self.passwd}
}}"""

    def log_text(self) -> str:
        return (self.root / "dovecot.log").read_text(errors="replace")


@dataclass
class OAuthBed:
    oidc: OIDCServer
    dovecot: OAuthDovecot

    def users(self) -> dict[str, str]:
        return {u: p for u, p, _ in (self.dovecot._account(n) for n in range(1, USERS + 1))}


def start_oauth_bed() -> OAuthBed:
    if not os.path.exists(DOVECOT):
        require_real("Dovecot", "install the Debian package dovecot-pop3d")
    if os.geteuid() != 0:
        require_real("Dovecot", "the tests start it as root (it switches to 'nobody')")
    root = Path(tempfile.mkdtemp(prefix="traymail-oauth-dovecot-"))
    users = {f"user{n}": f"Secret-{os.getpid()}-{n}!x" for n in range(1, USERS + 1)}
    oidc = OIDCServer(users)
    try:
        dovecot = OAuthDovecot(root, oidc.issuer)
        assert all(dovecot._account(n)[1] == users[f"user{n}"] for n in range(1, USERS + 1))
        dovecot.start()
    except BaseException:
        oidc.stop()
        raise
    return OAuthBed(oidc, dovecot)


# -- the browser step ------------------------------------------------------------------

class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""


def _forms(html: str) -> list[dict[str, Any]]:
    p = _Forms()
    p.feed(html)
    return p.forms


def browser_sign_in(url: str, user: str, password: str) -> str:
    """A real HTTP client as the user's browser: GET the authorization URL,
    follow redirects, post the login form and the consent form; the last
    redirect reaches traymail's loopback server. Returns its page."""
    import requests

    s = requests.Session()
    r = s.get(url, timeout=20)
    for _ in range(4):
        if r.url.startswith("http://127.0.0.1:") and "/interaction/" not in r.url \
                and not r.url.startswith(url.split("/auth")[0]):
            return r.text  # traymail's page
        forms = _forms(r.text)
        assert forms, f"no form on {r.url}: {r.text[:500]}"
        form = forms[0]
        fields = dict(form["fields"])
        if "login" in fields or fields.get("prompt") == "login":
            fields.update(login=user, password=password)
        r = s.post(urljoin(r.url, form["action"]), data=fields, timeout=20)
    raise AssertionError(f"sign-in did not finish; last page {r.url}")


def device_user_step(verification_uri: str, user_code: str, user: str, password: str,
                     abort: bool = False) -> str:
    """The user on another device: open the link, type the code, confirm (or
    abort), sign in and allow. Returns the final page text."""
    import requests

    s = requests.Session()
    r = s.get(verification_uri, timeout=20)
    for _ in range(6):
        forms = _forms(r.text)
        if not forms:
            return r.text
        form = forms[0]
        fields = dict(form["fields"])
        if abort and "Confirm Device" in r.text:
            fields["abort"] = "yes"
            return s.post(urljoin(r.url, form["action"] or r.url), data=fields,
                          timeout=20).text
        if "user_code" in fields:
            fields["user_code"] = user_code
        if "login" in fields or fields.get("prompt") == "login":
            fields.update(login=user, password=password)
        r = s.post(urljoin(r.url, form["action"] or r.url), data=fields, timeout=20)
    raise AssertionError(f"device step did not finish; last page {r.url}: {r.text[:300]}")


def wait_until(pred: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


# -- headless Chromium over the DevTools protocol (--remote-debugging-pipe) -----------

class Chromium:
    """Debian's /usr/bin/chromium, headless, driven through the DevTools protocol
    on a pipe (fd 3: commands in, fd 4: replies out, NUL-separated JSON)."""

    def __init__(self) -> None:
        if not os.path.exists(CHROMIUM):
            require_real("Chromium", "install the Debian package chromium")
        self.profile = tempfile.mkdtemp(prefix="traymail-chromium-")
        import fcntl

        def high(fd: int) -> int:  # never 3 or 4 themselves: the shell maps onto those
            new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
            os.close(fd)
            return new

        to_r, self._to_w = map(high, os.pipe())
        self._from_r, from_w = map(high, os.pipe())
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={self.profile}", "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", f'exec "$@" 3<&{to_r} 4>&{from_w}', "bash", *argv],
            pass_fds=(to_r, from_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(to_r)
        os.close(from_w)
        self._buf = b""
        self._id = 0
        self.session: str | None = None

    def send(self, method: str, params: dict[str, Any] | None = None,
             timeout: float = 20) -> dict[str, Any]:
        import select

        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        end = time.monotonic() + timeout
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})  # type: ignore[no-any-return]
            left = end - time.monotonic()
            if left <= 0 or not select.select([self._from_r], [], [], left)[0]:
                raise TimeoutError(f"Chromium did not answer {method}")
            chunk = os.read(self._from_r, 65536)
            if not chunk:
                raise RuntimeError("Chromium exited")
            self._buf += chunk

    def open(self, url: str) -> None:
        targets = self.send("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": page["targetId"], "flatten": True})["sessionId"]
        self.send("Page.navigate", {"url": url})

    def evaluate(self, js: str) -> Any:
        r = self.send("Runtime.evaluate", {"expression": js, "returnByValue": True})
        return r.get("result", {}).get("value")

    def stop(self) -> None:
        stop_group(self.proc, 10)
        for fd in (self._to_w, self._from_r):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


_PAGE_STATE = """(() => ({href: location.href, ready: document.readyState,
  text: document.body ? document.body.innerText : '',
  login: !!document.getElementById('login'), submit: !!document.getElementById('submit')}))()"""


def chromium_sign_in(url: str, user: str, password: str, timeout: float = 60) -> str:
    """The browser step in real headless Chromium: the provider's pages are
    rendered and their forms typed into and submitted as a user would.
    Returns the text of the page traymail's loopback server showed."""
    browser = Chromium()
    try:
        browser.open(url)
        end = time.monotonic() + timeout
        acted: set[str] = set()
        while time.monotonic() < end:
            try:
                page = browser.evaluate(_PAGE_STATE) or {}
            except RuntimeError:  # navigating: the context went away
                page = {}
            if "Signed in to traymail" in page.get("text", ""):
                return str(page["text"])
            key = f"{page.get('href', '')}|{page.get('login')}"
            if page.get("ready") == "complete" and key not in acted:
                if page.get("login"):
                    acted.add(key)
                    browser.evaluate(
                        f"document.getElementById('login').value = {json.dumps(user)};"
                        f"document.getElementById('password').value = {json.dumps(password)};"
                        "document.getElementById('submit').click(); true")
                elif page.get("submit"):
                    acted.add(key)
                    browser.evaluate("document.getElementById('submit').click(); true")
            time.sleep(0.1)
        raise TimeoutError(f"Chromium did not finish the sign-in: {page}")
    finally:
        browser.stop()
