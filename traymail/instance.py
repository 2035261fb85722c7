"""Single instance: the first traymail listens; a second one hands over
("show") and exits. One instance per state dir, so a portable --home runs
beside the normal one.

The channel carries bytes only, never a pickle: one command from a fixed set
of ASCII words (:data:`COMMANDS`) in frames of at most 256 bytes
(``send_bytes``/``recv_bytes``); anything else is refused and logged.

Who can be at the other end:

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
import hashlib
import hmac
import logging
import os
import re
import secrets
import socket
import stat
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Protocol

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
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class AlreadyRunning(OSError):
    """Another traymail of this user answers for this state dir."""


class _Conn(Protocol):
    def send_bytes(self, buf: bytes) -> None: ...
    def recv_bytes(self, maxlength: int | None = ...) -> bytes: ...
    def poll(self, timeout: float | None = ...) -> bool: ...
    def fileno(self) -> int: ...
    def close(self) -> None: ...


# -- names ------------------------------------------------------------------------

def _tag(key: bytes, purpose: bytes) -> str:
    return hmac.new(key, b"traymail name:" + purpose, hashlib.sha256).hexdigest()[:24]


def socket_name(key: bytes) -> str:
    """The Unix socket's file name: derived from the key, so not guessable."""
    return f"traymail-{_tag(key, b'socket')}.sock"


def pipe_name(sid: str, key: bytes) -> str:
    r"""The Windows pipe: ``\\.\pipe\traymail-<user SID>-<key tag>``."""
    if not re.fullmatch(r"S-1(-\d+)+", sid) or len(sid) > 184:
        raise ValueError(f"not a SID: {sid!r}")
    return rf"\\.\pipe\traymail-{sid}-{_tag(key, b'pipe')}"


def runtime_dirs(paths: Paths, environ: dict[str, str] | None = None) -> list[tuple[Path, bool]]:
    """Where the socket may live, in order: (folder, ours to create)."""
    env = os.environ if environ is None else environ
    out: list[tuple[Path, bool]] = []
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg):
        out.append((Path(xdg), False))
    out.append((paths.state_dir / "run", True))
    if hasattr(os, "getuid"):
        out.append((paths.state_dir / f"run-{os.getuid()}", True))
    return out


# -- the key ----------------------------------------------------------------------

def _authkey(paths: Paths) -> bytes:
    """The per-state-dir secret (32 random bytes, 0600). A key file that is not
    a plain file of ours (a symlink, another owner, open to others) is
    replaced, never trusted."""
    private_dir(paths.state_dir)
    path = paths.state_dir / "instance.key"
    for _ in range(3):
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
        key = secrets.token_bytes(32)
        try:
            with os.fdopen(create_private(path), "wb") as f:
                f.write(key)
            return key
        except FileExistsError:
            continue  # another instance wrote it first: read that one
    raise OSError(f"cannot set up {path}")


# -- the handshake ----------------------------------------------------------------

def _mac(key: bytes, role: bytes, *parts: bytes) -> bytes:
    data = b"".join(len(p).to_bytes(2, "big") + p for p in (_MAGIC, role, *parts))
    return hmac.new(key, data, hashlib.sha256).digest()


def _recv(conn: _Conn, timeout: float) -> bytes:
    if not conn.poll(timeout):
        raise TimeoutError("the other side did not answer")
    return conn.recv_bytes(_MAX_FRAME)


def _client_exchange(conn: _Conn, key: bytes, command: str, timeout: float) -> bool:
    """Say ``command``; True only when the server proves it holds the key."""
    hello = _recv(conn, timeout)
    magic, _, server_nonce = hello.partition(b"\n")
    if magic != _MAGIC or len(server_nonce) != _NONCE:
        raise ValueError("not a traymail instance")
    nonce = secrets.token_bytes(_NONCE)
    word = command.encode("ascii")
    conn.send_bytes(word + b"\n" + nonce + _mac(key, b"client", server_nonce, nonce, word))
    reply = _recv(conn, timeout)
    expected = b"ok\n" + _mac(key, b"server", server_nonce, nonce, word, b"ok")
    return hmac.compare_digest(reply, expected)


def _server_exchange(conn: _Conn, key: bytes) -> str | None:
    """Challenge a client; its command when it proves the key, else None."""
    nonce = secrets.token_bytes(_NONCE)
    conn.send_bytes(_MAGIC + b"\n" + nonce)
    request = _recv(conn, _STEP)
    word, _, rest = request.partition(b"\n")
    client_nonce, mac = rest[:_NONCE], rest[_NONCE:]
    if len(client_nonce) != _NONCE or not hmac.compare_digest(
            mac, _mac(key, b"client", nonce, client_nonce, word)):
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


# -- POSIX: a Unix socket in a private folder --------------------------------------------

def _open_dir(directory: Path, ours: bool) -> int | None:
    """A descriptor of ``directory`` when only we can enter it, else None (logged).
    ``ours``: a folder of traymail's, made 0700 when missing or too open."""
    if ours:
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            log.warning("cannot make %s: %s", directory, exc)
            return None
    try:
        fd = os.open(directory, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        log.warning("not using %s for the instance socket: %s", directory, exc)
        return None
    st = os.fstat(fd)
    problem = ""
    if not stat.S_ISDIR(st.st_mode):
        problem = "not a folder"
    elif st.st_uid != os.getuid():
        problem = f"owned by uid {st.st_uid}, not {os.getuid()}"
    elif stat.S_IMODE(st.st_mode) & 0o077:
        if ours:
            os.fchmod(fd, 0o700)
        else:
            problem = f"mode {stat.S_IMODE(st.st_mode):o} lets other users in"
    if problem:
        os.close(fd)
        log.warning("not using %s for the instance socket: %s", directory, problem)
        return None
    return fd


def _our_socket(dir_fd: int, name: str) -> bool | None:
    """None: nothing there; True: a socket owned by us; False: something else."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return stat.S_ISSOCK(st.st_mode) and st.st_uid == os.getuid()


def _address(directory: Path, dir_fd: int, name: str) -> str:
    """The path to bind/connect; a long one goes through the open folder's
    descriptor (a sockaddr_un path is limited to ~100 bytes)."""
    full = os.path.join(directory, name)
    if len(os.fsencode(full)) < 100 or not os.path.isdir(f"/proc/self/fd/{dir_fd}"):
        return full
    return f"/proc/self/fd/{dir_fd}/{name}"


def _peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end (Linux SO_PEERCRED)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, option,
                                                          struct.calcsize("3i")))
    return int(uid)


def _unix_connections(paths: Paths, key: bytes, timeout: float) -> Iterator[_Conn]:
    name = socket_name(key)
    for directory, ours in runtime_dirs(paths):
        if ours and not directory.is_dir():
            continue  # never made, so nobody listens there
        fd = _open_dir(directory, ours)
        if fd is None:
            continue
        try:
            found = _our_socket(fd, name)
            if found is False:
                log.warning("ignoring %s: not a socket of this user", directory / name)
            if not found:
                continue
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(_address(directory, fd, name))
                sock.settimeout(None)
                uid = _peer_uid(sock)
            except OSError as exc:
                sock.close()
                log.debug("no instance at %s: %s", directory / name, exc)
                continue
            if uid != os.getuid():
                sock.close()
                log.warning("refused the instance socket %s: its owner process runs as "
                            "uid %s", directory / name, uid)
                continue
            yield Connection(sock.detach())
        finally:
            os.close(fd)


class _UnixListener:
    def __init__(self, directory: Path, dir_fd: int, name: str, sock: socket.socket) -> None:
        self.directory, self.dir_fd, self.name, self.sock = directory, dir_fd, name, sock
        self.address = str(directory / name)
        self._ino = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_ino

    def accept(self) -> _Conn | None:
        conn, _ = self.sock.accept()
        uid = _peer_uid(conn)
        if uid != os.getuid():
            conn.close()
            log.warning("refused an instance connection from uid %s", uid)
            return None
        return Connection(conn.detach())

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept()
        except OSError:
            pass
        self.sock.close()
        try:  # remove our socket, and only ours (not a successor's)
            st = os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
            if st.st_ino == self._ino and stat.S_ISSOCK(st.st_mode):
                os.unlink(self.name, dir_fd=self.dir_fd)
        except OSError:
            pass
        os.close(self.dir_fd)


def _unix_listen(paths: Paths, key: bytes) -> _UnixListener | None:
    name = socket_name(key)
    for directory, ours in runtime_dirs(paths):
        fd = _open_dir(directory, ours)
        if fd is None:
            continue
        try:
            found = _our_socket(fd, name)
            if found is False:
                log.warning("%s is in the way and not a socket of this user; left alone",
                            directory / name)
                os.close(fd)
                continue
            if found:
                if send_to_running(paths, "ping", timeout=1.0):
                    raise AlreadyRunning(f"traymail already runs for {paths.state_dir}")
                os.unlink(name, dir_fd=fd)  # a stale socket of a crashed instance
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(_address(directory, fd, name))
                os.chmod(name, 0o600, dir_fd=fd)
                sock.listen(8)
                return _UnixListener(directory, fd, name, sock)
            except BaseException:
                sock.close()
                raise
        except AlreadyRunning:
            os.close(fd)
            raise
        except OSError as exc:
            os.close(fd)
            log.warning("cannot listen in %s: %s", directory, exc)
    return None


# -- Windows: a named pipe, both ends verified ------------------------------------------

def _winapi() -> _PipePeers:  # pragma: no cover - Windows only
    if sys.platform == "win32":
        from .platform_support import RealWinApi

        return RealWinApi()
    raise OSError("named pipes are for Windows")


class _PipePeers(Protocol):
    def user_sid(self) -> str | None: ...
    def pipe_peer_sid(self, handle: int, peer_is_server: bool) -> str | None: ...


def _pipe_connections(key: bytes, api: _PipePeers) -> Iterator[_Conn]:  # pragma: no cover
    sid = api.user_sid()
    if sid is None:
        return
    try:
        conn: _Conn = Client(pipe_name(sid, key), family="AF_PIPE")
    except OSError as exc:
        log.debug("no running instance: %s", exc)
        return
    if api.pipe_peer_sid(conn.fileno(), True) != sid:
        conn.close()
        log.warning("refused the instance pipe: its server does not run as this user")
        return
    yield conn


class _PipeListener:  # pragma: no cover - Windows only
    def __init__(self, address: str, sid: str, api: _PipePeers) -> None:
        self.address, self.sid, self.api = address, sid, api
        self.listener = Listener(address, family="AF_PIPE")

    def accept(self) -> _Conn | None:
        conn: _Conn = self.listener.accept()
        if self.api.pipe_peer_sid(conn.fileno(), False) != self.sid:
            conn.close()
            log.warning("refused an instance connection from another user")
            return None
        return conn

    def close(self) -> None:
        self.listener.close()


def _pipe_listen(paths: Paths, key: bytes, api: _PipePeers) -> _PipeListener | None:
    sid = api.user_sid()  # pragma: no cover - Windows only
    if sid is None:
        log.warning("cannot tell this user's SID; running without the instance pipe")
        return None
    try:
        return _PipeListener(pipe_name(sid, key), sid, api)
    except OSError as exc:
        if send_to_running(paths, "ping", timeout=1.0):
            raise AlreadyRunning(f"traymail already runs for {paths.state_dir}") from exc
        log.warning("cannot create the instance pipe: %s", exc)
        return None


# -- the API ----------------------------------------------------------------------

def _connections(paths: Paths, key: bytes, timeout: float) -> Iterator[_Conn]:
    if sys.platform == "win32":  # pragma: no cover
        return _pipe_connections(key, _winapi())
    return _unix_connections(paths, key, timeout)


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
        self._listener: _UnixListener | _PipeListener | None = None
        try:
            self._key = _authkey(paths)
        except OSError as exc:
            log.warning("cannot read or make the instance key: %s", exc)
        if not self._key:
            pass
        elif sys.platform == "win32":  # pragma: no cover
            self._listener = _pipe_listen(paths, self._key, _winapi())
        else:
            if send_to_running(paths, "ping", timeout=1.0):
                raise AlreadyRunning(f"traymail already runs for {paths.state_dir}")
            self._listener = _unix_listen(paths, self._key)
        if self._listener is None:
            log.warning("no safe place for the single-instance channel; a second launch "
                        "will start a second traymail")
        #: where it listens (None: no channel)
        self.address = self._listener.address if self._listener is not None else None
        self._thread = threading.Thread(target=self._serve, name="traymail-instance",
                                        daemon=True)

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
