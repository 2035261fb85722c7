"""Real parts for tests: a generated TLS certificate and a private Dovecot.

Nothing here touches /etc/dovecot: config, state, logs, certificate and
maildirs live in one temporary directory; the server listens on 127.0.0.1
only and is stopped by its PID.

Set TRAYMAIL_REQUIRE_REAL=1 (CI does) to turn "Dovecot missing" from a skip
into a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVECOT_ON_WINDOWS = ("Dovecot runs on Linux only (Windows code cannot start it); "
                      "the devserver-backed tests cover the same paths on Windows")


def require_real(what: str, why: str) -> None:
    """Skip -- or fail when TRAYMAIL_REQUIRE_REAL=1 -- because ``what`` is missing."""
    message = f"{what} not available: {why}"
    if os.environ.get("TRAYMAIL_REQUIRE_REAL") == "1":
        pytest.fail(message + " (TRAYMAIL_REQUIRE_REAL=1)", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A verifying context that trusts only this certificate."""
        return ssl.create_default_context(cafile=str(self.cert))


def make_certificate(directory: Path, cn: str = "localhost",
                     san: str | None = None) -> Certificate:
    """A self-signed certificate for ``cn`` with SANs localhost, 127.0.0.1, ::1
    (or ``san``). Without an openssl command (Windows), the default one may come
    ready-made from ``TRAYMAIL_TEST_CERTS`` (the Windows lane makes it with
    openssl on the Linux side)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    if shutil.which("openssl") is None:
        made = os.environ.get("TRAYMAIL_TEST_CERTS")
        if made and cn == "localhost" and san is None:
            shutil.copyfile(Path(made) / "cert.pem", cert)
            shutil.copyfile(Path(made) / "key.pem", key)
            return Certificate(cert, key)
        require_real("openssl", "the openssl command is needed to generate a certificate")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={cn}",
            "-addext", f"subjectAltName={san or f'DNS:{cn},IP:127.0.0.1,IP:::1'}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return Certificate(cert, key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class DovecotAccount:
    server: Dovecot
    user: str
    password: str
    maildir: Path
    _seq: int = 0

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def add(self, data: bytes) -> Path:
        """Deliver ``data`` (LF line ends, as maildir stores it) into new/."""
        self._seq += 1
        name = f"{1700000000 + self._seq}.M{self._seq:06d}P1.traymail-test"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(data)
        os.chown(tmp, self.server.uid, self.server.gid)
        dest = self.maildir / "new" / name
        os.replace(tmp, dest)
        return dest

    def files(self) -> list[Path]:
        """Message files still in the maildir, in delivery order."""
        found = [p for sub in ("new", "cur") for p in (self.maildir / sub).iterdir()]
        return sorted(found, key=lambda p: p.name)


def stop_group(proc: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM to the process group that ``proc`` leads (started with
    start_new_session=True); SIGKILL if it is not gone in ``timeout`` s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Dovecot:
    """A private Dovecot: POP3 (plain + STLS) and POP3S on loopback ports."""

    def __init__(self, root: Path, cert: Certificate) -> None:
        self.root = root
        self.cert = cert
        self.port = free_port()
        self.ssl_port = free_port()
        import grp
        import pwd

        self.uid = pwd.getpwnam("nobody").pw_uid
        self.gid = grp.getgrnam("nogroup").gr_gid
        self.passwd = root / "passwd"
        self.proc: subprocess.Popen[bytes] | None = None
        self._users = 0

    def start(self) -> None:
        r = self.root
        for sub in ("run", "state", "mail"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(r, 0o755)
        os.chmod(r / "mail", 0o755)
        # Dovecot re-reads passwd-file only when its mtime changes (1 s
        # resolution), so every account the session may need is written now.
        lines = []
        for n in range(1, self.MAX_ACCOUNTS + 1):
            user, password, home = self._account(n)
            lines.append(f"{user}:{{PLAIN}}{password}:{self.uid}:{self.gid}::{home}::\n")
        self.passwd.write_text("".join(lines))
        self.passwd.chmod(0o644)
        conf = r / "dovecot.conf"
        conf.write_text(
            f"""# generated by tests/realservers.py ({type(self).__name__})
instance_name = {self.INSTANCE}-{os.getpid()}
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{self.cert.cert}
ssl_key = <{self.cert.key}
disable_plaintext_auth = no
{self._auth_conf()}
userdb {{
  driver = passwd-file
  args = {self.passwd}
}}
mail_location = maildir:~/Maildir
first_valid_uid = 1
first_valid_gid = 1
pop3_uidl_format = %08Xu%08Xv
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {self.ssl_port}
    ssl = yes
  }}
}}
"""
        )
        check = subprocess.run([DOVECOT, "-c", str(conf), "-n"], capture_output=True)
        if check.returncode != 0:
            raise RuntimeError("dovecot config check failed: " + check.stderr.decode())
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if not (wait_port(self.port, 20) and wait_port(self.ssl_port, 5)):
            log = (r / "dovecot.log").read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError("dovecot did not start:\n" + log)

    #: instance_name prefix: two kinds may run side by side in one session
    INSTANCE = "traymail-test"

    def _auth_conf(self) -> str:
        """The dovecot.conf lines that differ between the kinds of server:
        mechanisms, passdbs and limits (the userdb is the same passwd-file)."""
        return f"""auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.passwd}
}}
mail_max_userip_connections = 50"""

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_group(self.proc, 10)
        self.proc = None

    MAX_ACCOUNTS = 400

    def _account(self, n: int) -> tuple[str, str, Path]:
        user = f"user{n}"
        return user, f"Secret-{os.getpid()}-{n}!x", self.root / "mail" / user

    def new_account(self) -> DovecotAccount:
        """A fresh user with an empty maildir."""
        self._users += 1
        if self._users > self.MAX_ACCOUNTS:
            raise RuntimeError("raise Dovecot.MAX_ACCOUNTS")
        user, password, home = self._account(self._users)
        maildir = home / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        for d in (home, maildir, *(maildir / s for s in ("cur", "new", "tmp"))):
            os.chown(d, self.uid, self.gid)
            os.chmod(d, 0o700)
        return DovecotAccount(self, user, password, maildir)


def start_dovecot() -> Dovecot:
    """Start a Dovecot for a test session, or skip/fail with the reason."""
    if sys.platform == "win32":
        pytest.skip(DOVECOT_ON_WINDOWS)
    if not os.path.exists(DOVECOT):
        require_real("Dovecot", "install the Debian package dovecot-pop3d")
    if os.geteuid() != 0:
        require_real("Dovecot", "the tests start it as root (it switches to 'nobody')")
    root = Path(tempfile.mkdtemp(prefix="traymail-dovecot-"))
    server = Dovecot(root, make_certificate(root / "ssl"))
    server.start()
    return server
