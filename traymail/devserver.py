"""A small, honest POP3 server for tests, the demo and benchmarks.

RFC 1939 (USER/PASS, APOP, STAT, LIST, RETR, DELE, NOOP, RSET, TOP, UIDL,
QUIT) plus CAPA and PIPELINING (RFC 2449), STLS (RFC 2595) and AUTH PLAIN,
XOAUTH2 and OAUTHBEARER (RFC 5034, RFC 7628; see :mod:`.devsasl`), over an
in-memory or maildir mailbox. A session locks the maildrop from login to
the end (a second login gets ``-ERR [IN-USE]``) and works on a snapshot:
message numbers stay fixed, DELE only marks, QUIT applies the marks; a
session that ends any other way deletes nothing (RFC 1939 §6).

:class:`Faults` injects failures for tests: stalls, a connection dropped
after N bytes, bare LF line ends, missing capabilities or commands, -ERR
replies with response codes, over-long or garbage status lines, hostile
data after ``+OK`` (generated lazily: endless lines, millions of listing
lines, oversized bodies) and replies trickled a byte at a time.

Run it: ``python -m traymail.devserver --port 1110 --sample 20``.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .devmailboxes import MaildirMailbox, MemoryMailbox, Message
from .devsession import Session

__all__ = ["Message", "MemoryMailbox", "MaildirMailbox", "Faults", "DevServer", "main"]


Mailbox = MemoryMailbox | MaildirMailbox


@dataclass
class Faults:
    """Failures to inject. Keys name commands (``"GREETING"`` for the banner)."""

    #: seconds to wait before answering these commands
    stall: dict[str, float] = field(default_factory=dict)
    #: close the connection after this many bytes were sent in a session
    drop_after_bytes: int | None = None
    #: close the connection on receiving the n-th (1-based) command of a kind
    drop_at: dict[str, int] = field(default_factory=dict)
    #: send bare LF instead of CRLF
    bare_lf: bool = False
    #: capabilities/commands the server does not have: CAPA, UIDL, TOP, PIPELINING, STLS
    omit: frozenset[str] = frozenset()
    #: full status lines sent instead of the real reply, e.g. "-ERR [IN-USE] locked"
    errors: dict[str, str] = field(default_factory=dict)
    #: raw bytes sent instead of the real reply (garbage, over-long lines)
    raw: dict[str, bytes] = field(default_factory=dict)
    #: announce LOGIN-DELAY n in CAPA
    login_delay: int | None = None
    #: capabilities announced only after login (as Gmail does with PIPELINING/TOP)
    after_login_only: frozenset[str] = frozenset()
    #: SASL mechanisms announced and accepted (None: PLAIN XOAUTH2 OAUTHBEARER);
    #: put "SASL" in ``omit`` to drop the capability and AUTH altogether
    sasl_mechanisms: tuple[str, ...] | None = None
    #: answer AUTH with challenges forever (a hostile server)
    sasl_endless: bool = False
    #: what follows "+OK" for CAPA/LIST/UIDL/RETR/TOP instead of the real data
    #: (terminator included), produced lazily chunk by chunk
    data: dict[str, Callable[[], Iterable[bytes]]] = field(default_factory=dict)
    #: seconds between the single bytes of the replies to these commands
    trickle: dict[str, float] = field(default_factory=dict)


class DevServer:
    """A threaded POP3 server on loopback. Use as a context manager."""

    def __init__(
        self,
        mailbox: Mailbox | None = None,
        users: dict[str, str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        stls_context: ssl.SSLContext | None = None,
        faults: Faults | None = None,
        tokens: dict[str, str] | None = None,
    ) -> None:
        self.mailbox: Mailbox = mailbox if mailbox is not None else MemoryMailbox()
        self.users = users if users is not None else {"user": "pass"}
        #: OAuth2 access token -> the user it was issued to (XOAUTH2, OAUTHBEARER)
        self.tokens = tokens if tokens is not None else {}
        self.ssl_context = ssl_context
        self.stls_context = stls_context
        self.faults = faults or Faults()
        self.commands: list[str] = []
        self.connections = 0
        self.deleted_total = 0
        self._locked = False
        self._lock = threading.Lock()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(16)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepter: threading.Thread | None = None
        self._stopping = False
        self.stopped = threading.Event()
        self._sessions: list[Session] = []

    def log_command(self, text: str) -> None:
        with self._lock:
            self.commands.append(text)

    def _acquire(self) -> bool:
        with self._lock:
            if self._locked:
                return False
            self._locked = True
            return True

    def _release(self) -> None:
        with self._lock:
            self._locked = False

    def start(self) -> DevServer:
        self._accepter = threading.Thread(target=self._accept, name="devserver", daemon=True)
        self._accepter.start()
        return self

    def _accept(self) -> None:
        while not self._stopping:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = Session(self, sock)
            self._sessions.append(session)
            t = threading.Thread(target=session.run, name="devserver-session", daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def stop(self) -> None:
        self._stopping = True
        self.stopped.set()
        for sock in [self._listener, *(s.sock for s in self._sessions)]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._listener.close()
        if self._accepter is not None:
            self._accepter.join(5)
        for t in self._threads:
            t.join(5)

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    from .samples import sample_messages

    p = argparse.ArgumentParser(prog="python -m traymail.devserver", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1110)
    p.add_argument("--user", default="demo")
    p.add_argument("--password", default="demo")
    p.add_argument("--maildir", help="serve this maildir instead of memory")
    p.add_argument("--sample", type=int, default=12, help="sample messages in memory")
    args = p.parse_args(argv)
    box: Mailbox
    if args.maildir:
        box = MaildirMailbox(args.maildir)
    else:
        box = MemoryMailbox(sample_messages(args.sample))
    with DevServer(box, {args.user: args.password}, host=args.host, port=args.port) as srv:
        print(f"POP3 on {srv.host}:{srv.port}, user {args.user!r}; Ctrl+C stops", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
