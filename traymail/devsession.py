"""One connection to the devserver: the POP3 commands (RFC 1939, CAPA and
PIPELINING of RFC 2449, STLS of RFC 2595; AUTH in :mod:`.devsasl`) and the
faults of :class:`~traymail.devserver.Faults` applied to each reply.

The server (:class:`~traymail.devserver.DevServer`) accepts connections and
runs a :class:`Session` for each in its own thread.
"""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import time
from typing import TYPE_CHECKING

from . import devsasl
from .devmailboxes import Message
from .pop3._lines import dot_stuff

if TYPE_CHECKING:
    from .devserver import DevServer

__all__ = ["Session", "Dropped", "MAX_LINE"]

MAX_LINE = 4096


class Dropped(Exception):
    pass


class Session:
    """One client connection, served in its own thread."""

    def __init__(self, server: DevServer, sock: socket.socket) -> None:
        self.server = server
        self.sock: socket.socket = sock
        self.buf = bytearray()
        self.sent = 0
        self.user: str | None = None
        self.authed = False
        self.tls = server.ssl_context is not None
        self.messages: list[Message] = []
        self.deleted: set[int] = set()
        self.seen: dict[str, int] = {}
        self.command = "GREETING"
        self.stamp = f"<{os.getpid()}.{time.time_ns()}@traymail-devserver>"

    # -- I/O -----------------------------------------------------------------
    def readline(self) -> bytes | None:
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i]).rstrip(b"\r")
                del self.buf[: i + 1]
                return line
            if len(self.buf) > MAX_LINE:
                return None
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data

    def send(self, data: bytes) -> None:
        faults = self.server.faults
        if faults.bare_lf:
            data = data.replace(b"\r\n", b"\n")
        limit = faults.drop_after_bytes
        if limit is not None and self.sent + len(data) >= limit:
            self.sock.sendall(data[: max(0, limit - self.sent)])
            raise Dropped()
        delay = faults.trickle.get(self.command)
        if delay is not None:
            for i in range(len(data)):
                if self.server.stopped.wait(delay):
                    raise Dropped()
                self.sock.sendall(data[i : i + 1])
        else:
            self.sock.sendall(data)
        self.sent += len(data)

    def send_data(self, command: str, data: bytes) -> None:
        """The data after "+OK", or what the ``data`` fault produces instead."""
        make = self.server.faults.data.get(command)
        if make is None:
            self.send(data)
            return
        for chunk in make():
            self.send(chunk)

    def reply(self, command: str, ok: str) -> None:
        """Send a status line, or the fault configured for ``command``."""
        faults = self.server.faults
        if command in faults.stall:
            self.server.stopped.wait(faults.stall[command])
        if command in faults.raw:
            self.send(faults.raw[command])
            return
        line = faults.errors.get(command, ok)
        self.send(line.encode("utf-8") + b"\r\n")

    def faulted(self, command: str) -> bool:
        """True when a fault replaced the real reply (no data must follow)."""
        f = self.server.faults
        return command in f.errors or command in f.raw

    # -- the session ---------------------------------------------------------
    def run(self) -> None:
        try:
            if self.tls:
                ctx = self.server.ssl_context
                assert ctx is not None
                self.sock = ctx.wrap_socket(self.sock, server_side=True)
            self.reply("GREETING", f"+OK traymail devserver ready {self.stamp}")
            if self.server.faults.errors.get("GREETING", "+").startswith("-"):
                return
            while True:
                line = self.readline()
                if line is None:
                    return
                text = line.decode("utf-8", "replace")
                verb, _, arg = text.partition(" ")
                verb = self.command = verb.upper()
                if verb in ("PASS", "APOP"):
                    text = verb
                elif verb == "AUTH":  # the initial response is a secret
                    text = "AUTH " + arg.partition(" ")[0]
                self.server.log_command(text)
                self.seen[verb] = self.seen.get(verb, 0) + 1
                if self.server.faults.drop_at.get(verb) == self.seen[verb]:
                    return
                if verb in self.server.faults.omit and verb != "PIPELINING":
                    self.send(b"-ERR unknown command\r\n")
                    continue
                handler = getattr(self, "cmd_" + verb, None)
                if handler is None:
                    self.send(b"-ERR unknown command\r\n")
                    continue
                if handler(arg) is False:
                    return
        except (Dropped, OSError, ssl.SSLError):
            pass
        finally:
            if self.authed:
                self.server._release()
            try:
                self.sock.close()
            except OSError:
                pass

    def _need_auth(self, command: str) -> bool:
        if not self.authed:
            self.send(f"-ERR {command} only in the TRANSACTION state\r\n".encode())
            return True
        return False

    def _message(self, command: str, arg: str) -> tuple[int, Message] | None:
        word = arg.split(" ")[0]
        if not word.isdigit() or not 1 <= int(word) <= len(self.messages):
            self.send(b"-ERR no such message\r\n")
            return None
        n = int(word)
        if n in self.deleted:
            self.send(b"-ERR message already deleted\r\n")
            return None
        return n, self.messages[n - 1]

    def _login(self, command: str) -> None:
        if not self.server._acquire():
            self.send(b"-ERR [IN-USE] maildrop is locked by another session\r\n")
            return
        self.authed = True
        self.messages = self.server.mailbox.snapshot()
        self.reply(command, f"+OK {len(self.messages)} messages")
        if self.faulted(command):
            self.authed = False
            self.server._release()

    def cmd_CAPA(self, arg: str) -> None:
        if self.faulted("CAPA"):
            self.reply("CAPA", "")
            return
        omit = self.server.faults.omit
        caps = ["USER", "RESP-CODES", "AUTH-RESP-CODE"]
        caps += [c for c in ("TOP", "UIDL", "PIPELINING") if c not in omit]
        if not self.authed:
            caps = [c for c in caps if c not in self.server.faults.after_login_only]
        if self.server.stls_context is not None and not self.tls and not self.authed:
            if "STLS" not in omit:
                caps.append("STLS")
        if "SASL" not in omit and not self.authed:
            faults = self.server.faults
            mechanisms = faults.sasl_mechanisms
            caps.append(" ".join(("SASL", *(devsasl.MECHANISMS if mechanisms is None
                                            else mechanisms))))
        if self.server.faults.login_delay is not None:
            caps.append(f"LOGIN-DELAY {self.server.faults.login_delay}")
        caps.append("IMPLEMENTATION traymail-devserver")
        self.send(b"+OK capabilities follow\r\n")
        self.send_data("CAPA", ("".join(c + "\r\n" for c in caps) + ".\r\n").encode())

    def cmd_STLS(self, arg: str) -> None:
        ctx = self.server.stls_context
        if ctx is None or self.tls or self.authed:
            self.send(b"-ERR STLS not available\r\n")
            return
        self.reply("STLS", "+OK begin TLS negotiation")
        if self.faulted("STLS"):
            return
        self.buf.clear()  # RFC 2595 §4: drop anything pipelined before the handshake
        self.sock = ctx.wrap_socket(self.sock, server_side=True)
        self.tls = True

    def cmd_USER(self, arg: str) -> None:
        if self.authed:
            self.send(b"-ERR already authenticated\r\n")
            return
        self.user = arg
        self.reply("USER", "+OK send PASS")

    def cmd_PASS(self, arg: str) -> None:
        if self.authed or self.user is None:
            self.send(b"-ERR USER first\r\n")
            return
        user, self.user = self.user, None
        if self.server.users.get(user) != arg:
            self.send(b"-ERR [AUTH] invalid user name or password\r\n")
            return
        self._login("PASS")

    def cmd_APOP(self, arg: str) -> None:
        user, _, digest = arg.partition(" ")
        secret = self.server.users.get(user)
        good = secret is not None and (
            hashlib.md5((self.stamp + secret).encode()).hexdigest() == digest.lower()
        )
        if self.authed or not good:
            self.send(b"-ERR [AUTH] authentication failed\r\n")
            return
        self._login("APOP")

    def cmd_AUTH(self, arg: str) -> None:
        devsasl.auth(self, arg)

    def cmd_STAT(self, arg: str) -> None:
        if self._need_auth("STAT"):
            return
        live = [m for i, m in enumerate(self.messages, 1) if i not in self.deleted]
        self.reply("STAT", f"+OK {len(live)} {sum(len(m.data) for m in live)}")

    def _listing(self, command: str, arg: str, value: str) -> None:
        if self._need_auth(command):
            return
        if arg:
            found = self._message(command, arg)
            if found:
                n, m = found
                self.reply(command, f"+OK {n} {m.uid if value == 'uid' else len(m.data)}")
            return
        self.reply(command, "+OK listing follows")
        if self.faulted(command):
            return
        out = [
            f"{n} {m.uid if value == 'uid' else len(m.data)}\r\n"
            for n, m in enumerate(self.messages, 1)
            if n not in self.deleted
        ]
        self.send_data(command, ("".join(out) + ".\r\n").encode())

    def cmd_LIST(self, arg: str) -> None:
        self._listing("LIST", arg, "size")

    def cmd_UIDL(self, arg: str) -> None:
        self._listing("UIDL", arg, "uid")

    def cmd_RETR(self, arg: str) -> None:
        if self._need_auth("RETR"):
            return
        found = self._message("RETR", arg)
        if found:
            self.reply("RETR", f"+OK {len(found[1].data)} octets")
            if not self.faulted("RETR"):
                self.send_data("RETR", dot_stuff(found[1].data))

    def cmd_TOP(self, arg: str) -> None:
        if self._need_auth("TOP"):
            return
        parts = arg.split()
        if len(parts) != 2 or not parts[1].isdigit():
            self.send(b"-ERR usage: TOP msg n\r\n")
            return
        found = self._message("TOP", parts[0])
        if found:
            data = found[1].data
            head, sep, body = data.partition(b"\r\n\r\n")
            lines = body.split(b"\r\n")[: int(parts[1])] if sep else []
            text = head + sep + b"".join(line + b"\r\n" for line in lines)
            self.reply("TOP", "+OK top of message follows")
            if not self.faulted("TOP"):
                self.send_data("TOP", dot_stuff(text))

    def cmd_DELE(self, arg: str) -> None:
        if self._need_auth("DELE"):
            return
        found = self._message("DELE", arg)
        if found:
            self.deleted.add(found[0])
            self.reply("DELE", f"+OK message {found[0]} deleted")

    def cmd_NOOP(self, arg: str) -> None:
        if not self._need_auth("NOOP"):
            self.reply("NOOP", "+OK")

    def cmd_RSET(self, arg: str) -> None:
        if not self._need_auth("RSET"):
            self.deleted.clear()
            self.reply("RSET", f"+OK {len(self.messages)} messages")

    def cmd_QUIT(self, arg: str) -> bool:
        stall = self.server.faults.stall.pop("QUIT", None)  # a slow UPDATE, lock held
        if stall:
            self.server.stopped.wait(stall)
        if self.authed:
            if not self.server.faults.errors.get("QUIT", "+").startswith("-"):
                self.server.mailbox.delete(self.messages[n - 1].uid for n in self.deleted)
                self.server.deleted_total += len(self.deleted)
            self.authed = False  # unlock before answering: the client may log in at once
            self.server._release()
        self.reply("QUIT", "+OK bye")
        return False
