"""Single instance: the first traymail listens; a second one hands over
("show") and exits. One instance per state dir, so a portable --home runs
beside the normal one.

The channel carries bytes only, never a pickle: one command from a fixed set
of ASCII words (:data:`COMMANDS`) in frames of at most 256 bytes
(``send_bytes``/``recv_bytes``); anything else is refused and logged.

Who can be at the other end (the transports are in :mod:`traymail.channel`):

* POSIX: a Unix socket in a folder only this user can enter --
  ``$XDG_RUNTIME_DIR`` when it is ours and 0700, else ``<state dir>/run``
  (created 0700). Its name is derived from the secret instance key, never a
  guessable path in /tmp. Before a connect or an unlink the folder (owner,
  mode, no symlink) and the socket (owner, type: ``lstat``) are checked, and
  after connecting each side checks the other's uid (``SO_PEERCRED``) before
  a byte is exchanged. Something in the way that is not ours is left alone and
  the next place is tried (``<state dir>/run-<uid>``); with no safe place left
  the app runs without the channel and says so in its log.
* Windows: a named pipe whose name carries the user's SID and a key-derived
  tag; each side checks that the process at the other end runs as this user
  (``GetNamedPipeServerProcessId``/``...ClientProcessId`` and that process's
  token), see :mod:`traymail.platform_support`.
* Both: a challenge-response over the instance key (HMAC-SHA256, RFC 2104).
  Each side signs both fresh nonces, the command, and its own role ("client"
  or "server"), so an answer taken from one connection (the start-up probe,
  the ping after a failed bind) can neither be replayed nor reflected into
  another.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator

from .channel import (
    AlreadyRunning,
    Conn,
    PipeListener,
    UnixListener,
    pipe_connections,
    pipe_listen,
    pipe_name,
    runtime_dirs,
    socket_name,
    unix_connections,
    unix_listen,
    winapi,
)
from .i18n import _
from .private import create_private, private_dir
from .settings import Paths

__all__ = ["COMMANDS", "InstanceServer", "AlreadyRunning", "send_to_running", "socket_name",
           "pipe_name", "runtime_dirs"]

log = logging.getLogger("traymail.instance")

#: every word the channel carries ("ping" is answered and otherwise ignored)
COMMANDS = frozenset({"show", "settings", "quit", "ping"})
_MAGIC = b"TRAYMAIL-INSTANCE/2"
_NONCE = 32
_MAX_FRAME = 256
_STEP = 3.0  # seconds a peer may take for one step of the handshake
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


# -- the key ----------------------------------------------------------------------

def _authkey(paths: Paths) -> bytes:
    """The per-state-dir secret (32 random bytes, 0600). A key file that is not
    a plain file of ours (a symlink, another owner, open to others) is
    replaced, never trusted."""
    private_dir(paths.state_dir)
    path = paths.state_dir / "instance.key"
    for _attempt in range(3):
        try:
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            log.warning("%s is a symlink; replacing it", path)
            path.unlink()
        else:
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(f.fileno())
                key = f.read(64)
            if len(key) == 32 and stat.S_ISREG(st.st_mode) and (
                    os.name != "posix" or (st.st_uid == os.getuid()
                                           and not st.st_mode & 0o077)):
                return key
            log.warning("%s is not a private key file of this user; replacing it", path)
            path.unlink()
        key = os.urandom(32)  # what secrets.token_bytes returns
        try:
            with os.fdopen(create_private(path), "wb") as f:
                f.write(key)
            return key
        except FileExistsError:
            continue  # another instance wrote it first: read that one
    raise OSError(_("cannot set up {path}").format(path=path))


# -- the handshake ----------------------------------------------------------------

def _mac(key: bytes, role: bytes, *parts: bytes) -> bytes:
    # hmac and hashlib load OpenSSL's libcrypto: imported by a hand-off, not at rest
    import hashlib
    import hmac

    data = b"".join(len(p).to_bytes(2, "big") + p for p in (_MAGIC, role, *parts))
    return hmac.new(key, data, hashlib.sha256).digest()


def _equal(a: bytes, b: bytes) -> bool:
    """A constant-time comparison (imported with the hand-off, as :func:`_mac`)."""
    import hmac

    return hmac.compare_digest(a, b)


def _recv(conn: Conn, timeout: float) -> bytes:
    if not conn.poll(timeout):
        raise TimeoutError("the other side did not answer")
    return conn.recv_bytes(_MAX_FRAME)


def _client_exchange(conn: Conn, key: bytes, command: str, timeout: float) -> bool:
    """Say ``command``; True only when the server proves it holds the key."""
    hello = _recv(conn, timeout)
    magic, _sep, server_nonce = hello.partition(b"\n")
    if magic != _MAGIC or len(server_nonce) != _NONCE:
        raise ValueError("not a traymail instance")
    nonce = os.urandom(_NONCE)
    word = command.encode("ascii")
    conn.send_bytes(word + b"\n" + nonce + _mac(key, b"client", server_nonce, nonce, word))
    reply = _recv(conn, timeout)
    expected = b"ok\n" + _mac(key, b"server", server_nonce, nonce, word, b"ok")
    return _equal(reply, expected)


def _server_exchange(conn: Conn, key: bytes) -> str | None:
    """Challenge a client; its command when it proves the key, else None."""
    nonce = os.urandom(_NONCE)
    conn.send_bytes(_MAGIC + b"\n" + nonce)
    request = _recv(conn, _STEP)
    word, _sep, rest = request.partition(b"\n")
    client_nonce, mac = rest[:_NONCE], rest[_NONCE:]
    if len(client_nonce) != _NONCE or not _equal(mac, _mac(key, b"client", nonce,
                                                           client_nonce, word)):
        conn.send_bytes(b"refused\n")
        log.warning("refused an instance connection: it does not hold the key")
        return None
    command = word.decode("ascii", "replace")
    if command not in COMMANDS:
        conn.send_bytes(b"unknown\n")
        log.warning("refused an unknown instance command %r", command[:32])
        return None
    conn.send_bytes(b"ok\n" + _mac(key, b"server", nonce, client_nonce, word, b"ok"))
    return command


# -- the API ----------------------------------------------------------------------

def _connections(paths: Paths, key: bytes, timeout: float) -> Iterator[Conn]:
    if sys.platform == "win32":  # pragma: no cover
        return pipe_connections(key, winapi())
    return unix_connections(paths, key, timeout)


def send_to_running(paths: Paths, message: str = "show", timeout: float = 3.0) -> bool:
    """Tell a running instance ``message``; False when none (of ours) answers."""
    if message not in COMMANDS:
        raise ValueError(f"not an instance command: {message!r}")
    result: list[bool] = []

    def talk() -> None:
        try:
            key = _authkey(paths)
            for conn in _connections(paths, key, timeout):
                try:
                    if _client_exchange(conn, key, message, timeout):
                        result.append(True)
                        return
                    log.warning("an instance channel answered without the key")
                except (OSError, EOFError, ValueError) as exc:
                    log.debug("no running instance: %s", exc)
                finally:
                    conn.close()
        except OSError as exc:
            log.warning("cannot reach a running instance: %s", exc)

    t = threading.Thread(target=talk, name="traymail-instance-client", daemon=True)
    t.start()
    t.join(timeout * 2 + 1)
    return bool(result)


class InstanceServer:
    """Listens for the commands of a second launch. A channel that cannot be set
    up safely is logged and left out: the app runs all the same."""

    def __init__(self, paths: Paths, on_message: Callable[[str], None]) -> None:
        self.paths = paths
        self.on_message = on_message
        self._stop = False
        self._key = b""
        self._listener: UnixListener | PipeListener | None = None
        try:
            self._key = _authkey(paths)
        except OSError as exc:
            log.warning("cannot read or make the instance key: %s", exc)
        if not self._key:
            pass
        elif sys.platform == "win32":  # pragma: no cover
            self._listener = pipe_listen(paths, self._key, winapi(), self._running)
        else:
            if self._running():
                raise AlreadyRunning(_("traymail already runs for {folder}").format(
                    folder=paths.state_dir))
            self._listener = unix_listen(paths, self._key, self._running)
        if self._listener is None:
            log.warning("no safe place for the single-instance channel; a second launch "
                        "will start a second traymail")
        #: where it listens (None: no channel)
        self.address = self._listener.address if self._listener is not None else None
        self._thread = threading.Thread(target=self._serve, name="traymail-instance",
                                        daemon=True)

    def _running(self) -> bool:
        return send_to_running(self.paths, "ping", timeout=1.0)

    def start(self) -> None:
        if self._listener is not None:
            self._thread.start()

    def _serve(self) -> None:
        assert self._listener is not None
        while not self._stop:
            try:
                conn = self._listener.accept()
            except OSError:
                return
            if conn is None:
                continue
            try:
                command = _server_exchange(conn, self._key)
            except (OSError, EOFError, ValueError) as exc:
                if not self._stop:
                    log.warning("instance connection failed: %s", exc)
                command = None
            finally:
                conn.close()
            if command is not None and command != "ping" and not self._stop:
                self.on_message(command)

    def close(self) -> None:
        self._stop = True
        if self._listener is None:
            return
        if sys.platform == "win32":  # pragma: no cover
            # a named pipe's accept() does not end when another thread closes
            # the listener: wake it by saying "ping" to ourselves
            send_to_running(self.paths, "ping", timeout=1.0)
        self._listener.close()
        if self._thread.is_alive():
            self._thread.join(3)

    @property
    def threads(self) -> list[threading.Thread]:
        return [self._thread]
