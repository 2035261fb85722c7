"""Where the two ends of the single-instance channel meet, and who is at the
other end (see :mod:`traymail.instance` for the design and the handshake).

POSIX: a Unix socket in a folder only this user can enter, named from the
key; the folder and the socket are checked with ``lstat`` before a connect or
an unlink, and the peer's uid (``SO_PEERCRED``) right after connecting.
Windows: a named pipe named from the user's SID and the key, the other end's
process owner checked (:mod:`traymail.platform_support`).
"""

from __future__ import annotations

import logging
import os
import re
import select
import socket
import stat
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from .settings import Paths

__all__ = ["AlreadyRunning", "Conn", "SocketConn", "socket_name", "pipe_name", "runtime_dirs",
           "unix_connections", "unix_listen", "UnixListener", "PipePeers", "winapi",
           "pipe_connections", "pipe_listen", "PipeListener"]

log = logging.getLogger("traymail.instance")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
#: says whether a traymail of ours already answers (a "ping" over the channel)
Running = Callable[[], bool]


class AlreadyRunning(OSError):
    """Another traymail of this user answers for this state dir."""


class Conn(Protocol):
    def send_bytes(self, buf: bytes) -> None: ...
    def recv_bytes(self, maxlength: int | None = ...) -> bytes: ...
    def poll(self, timeout: float | None = ...) -> bool: ...
    def fileno(self) -> int: ...
    def close(self) -> None: ...


class SocketConn:
    """Frames over a connected Unix socket: a 4-byte big-endian length, then the
    bytes -- the framing of :mod:`multiprocessing.connection` (which the Windows
    pipe keeps using), without importing it into every app: bytes only, never
    a pickle. A frame over ``maxlength`` is refused (OSError), a closed peer
    is EOFError."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def send_bytes(self, buf: bytes) -> None:
        self._sock.sendall(struct.pack("!i", len(buf)) + bytes(buf))

    def recv_bytes(self, maxlength: int | None = None) -> bytes:
        (size,) = struct.unpack("!i", self._read(4))
        if size < 0 or (maxlength is not None and size > maxlength):
            raise OSError("bad message length")
        return self._read(size)

    def _read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = self._sock.recv(n - len(out))
            if not chunk:
                raise EOFError
            out += chunk
        return bytes(out)

    def poll(self, timeout: float | None = 0.0) -> bool:
        """Whether a frame (or the end) can be read within ``timeout`` seconds."""
        p = select.poll()
        p.register(self._sock, select.POLLIN)
        return bool(p.poll(None if timeout is None else max(0, int(timeout * 1000))))

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()


# -- names ------------------------------------------------------------------------

def _tag(key: bytes, purpose: bytes) -> str:
    import hashlib  # OpenSSL's libcrypto: only where an instance channel is made
    import hmac

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


def unix_connections(paths: Paths, key: bytes, timeout: float) -> Iterator[Conn]:
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
            yield SocketConn(sock)
        finally:
            os.close(fd)


class UnixListener:
    def __init__(self, directory: Path, dir_fd: int, name: str, sock: socket.socket) -> None:
        self.directory, self.dir_fd, self.name, self.sock = directory, dir_fd, name, sock
        self.address = str(directory / name)
        self._ino = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_ino

    def accept(self) -> Conn | None:
        conn, _ = self.sock.accept()
        uid = _peer_uid(conn)
        if uid != os.getuid():
            conn.close()
            log.warning("refused an instance connection from uid %s", uid)
            return None
        return SocketConn(conn)

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


def unix_listen(paths: Paths, key: bytes, running: Running) -> UnixListener | None:
    """Listen in the first safe place; a stale socket of ours is replaced,
    unless ``running()`` (then AlreadyRunning)."""
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
                if running():
                    raise AlreadyRunning(f"traymail already runs for {paths.state_dir}")
                os.unlink(name, dir_fd=fd)  # a stale socket of a crashed instance
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(_address(directory, fd, name))
                os.chmod(name, 0o600, dir_fd=fd)
                sock.listen(8)
                return UnixListener(directory, fd, name, sock)
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

def winapi() -> PipePeers:  # pragma: no cover - Windows only
    if sys.platform == "win32":
        from .platform_support import RealWinApi

        return RealWinApi()
    raise OSError("named pipes are for Windows")


class PipePeers(Protocol):
    def user_sid(self) -> str | None: ...
    def pipe_peer_sid(self, handle: int, peer_is_server: bool) -> str | None: ...


def pipe_connections(key: bytes, api: PipePeers) -> Iterator[Conn]:  # pragma: no cover
    sid = api.user_sid()
    if sid is None:
        return
    from multiprocessing.connection import Client  # the Windows pipe's framing

    try:
        conn: Conn = Client(pipe_name(sid, key), family="AF_PIPE")
    except (OSError, ValueError) as exc:
        log.debug("no running instance: %s", exc)
        return
    if api.pipe_peer_sid(conn.fileno(), True) != sid:
        conn.close()
        log.warning("refused the instance pipe: its server does not run as this user")
        return
    yield conn


class PipeListener:  # pragma: no cover - Windows only
    def __init__(self, address: str, sid: str, api: PipePeers) -> None:
        from multiprocessing.connection import Listener

        self.address, self.sid, self.api = address, sid, api
        self.listener = Listener(address, family="AF_PIPE")

    def accept(self) -> Conn | None:
        conn: Conn = self.listener.accept()
        if self.api.pipe_peer_sid(conn.fileno(), False) != self.sid:
            conn.close()
            log.warning("refused an instance connection from another user")
            return None
        return conn

    def close(self) -> None:
        self.listener.close()


def pipe_listen(paths: Paths, key: bytes, api: PipePeers, running: Running
                ) -> PipeListener | None:
    sid = api.user_sid()  # pragma: no cover - Windows only
    if sid is None:
        log.warning("cannot tell this user's SID; running without the instance pipe")
        return None
    try:
        address = pipe_name(sid, key)
    except ValueError as exc:
        log.warning("running without the instance pipe: %s", exc)
        return None
    try:
        return PipeListener(address, sid, api)
    except OSError as exc:
        if running():
            raise AlreadyRunning(f"traymail already runs for {paths.state_dir}") from exc
        log.warning("cannot create the instance pipe: %s", exc)
        return None
