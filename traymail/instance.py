"""Single instance: the first traymail listens; a second one hands over
("show") and exits. stdlib multiprocessing.connection with an auth key: a
named pipe on Windows, a Unix socket elsewhere. One instance per state dir,
so a portable --home runs beside the normal one."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sys
import tempfile
import threading
from collections.abc import Callable
from multiprocessing.connection import Client, Listener
from pathlib import Path

from .settings import Paths

__all__ = ["InstanceServer", "send_to_running", "address_for"]

log = logging.getLogger("traymail.instance")


def address_for(paths: Paths) -> str:
    tag = hashlib.sha256(str(paths.state_dir.resolve()).encode()).hexdigest()[:12]
    if sys.platform == "win32":  # pragma: no cover
        return rf"\\.\pipe\traymail-{tag}"
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return os.path.join(base, f"traymail-{os.getuid()}-{tag}.sock")


def _authkey(paths: Paths) -> bytes:
    path = paths.state_dir / "instance.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        paths.state_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return key
    except OSError:
        return path.read_bytes()


def send_to_running(paths: Paths, message: str = "show", timeout: float = 3.0) -> bool:
    """Tell a running instance ``message``; False when none is running."""
    address = address_for(paths)
    if sys.platform != "win32" and not os.path.exists(address):
        return False
    result: list[bool] = []

    def talk() -> None:
        try:
            with Client(address, authkey=_authkey(paths)) as conn:
                conn.send(message)
                result.append(conn.poll(timeout) and conn.recv() == "ok")
        except (OSError, EOFError, ValueError) as exc:
            log.debug("no running instance: %s", exc)
        except Exception as exc:  # AuthenticationError: not ours
            log.warning("another program answers at %s: %s", address, exc)

    t = threading.Thread(target=talk, daemon=True)
    t.start()
    t.join(timeout + 1)
    return bool(result and result[0])


class InstanceServer:
    def __init__(self, paths: Paths, on_message: Callable[[str], None]) -> None:
        self.paths = paths
        self.on_message = on_message
        self.address = address_for(paths)
        key = _authkey(paths)
        try:
            self.listener = Listener(self.address, authkey=key)
        except OSError:
            if sys.platform == "win32" or send_to_running(paths, "ping"):
                raise
            os.unlink(self.address)  # a stale socket of a crashed instance
            self.listener = Listener(self.address, authkey=key)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, name="traymail-instance",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn = self.listener.accept()
            except OSError:
                return
            except Exception as exc:  # a client with the wrong key (or our wake-up)
                if not self._stop:
                    log.warning("refused an instance connection: %s", exc)
                continue
            try:
                with conn:
                    message = conn.recv()
                    conn.send("ok")
                if isinstance(message, str) and message != "ping":
                    self.on_message(message)
            except (OSError, EOFError):
                pass

    def close(self) -> None:
        self._stop = True
        # wake accept() the portable way (a named pipe's accept does not end
        # when another thread closes the listener): say "ping" to ourselves
        send_to_running(self.paths, "ping", timeout=1.0)
        self.listener.close()
        self._thread.join(3)
        if sys.platform != "win32":
            Path(self.address).unlink(missing_ok=True)

    @property
    def threads(self) -> list[threading.Thread]:
        return [self._thread]
