"""Passwords live in the OS keyring (service ``traymail``, user ``username@host:port``).

Never in settings.json, never in a log. When no secure keyring is available
(no Secret Service on Linux, or only a plain-text backend such as
keyrings.alt), :class:`KeyringStore` raises :class:`KeyringUnavailable` with
what to do. The documented opt-in ``TRAYMAIL_PASSWORD_IN_MEMORY=1`` keeps
passwords in memory for the life of the process instead (asked again at each
start).

Start-up cost: ``import keyring`` alone costs ~50 ms (its backends' helpers
pull urllib, tarfile, every backend module), which a ``traymail check`` run
every minute from cron pays each time. So :meth:`KeyringStore.get` first asks
the Secret Service directly (:mod:`traymail.secret_service`: four D-Bus calls,
the item attributes keyring's own Secret Service backend uses) when nothing
chooses another backend (no ``PYTHON_KEYRING_BACKEND``, no keyringrc, no
backend set in this process); anything else -- no Secret Service, a locked
collection, no such item -- goes the full keyring way. The backend keyring
chooses is chosen once per process and remembered.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Protocol

from .i18n import _
from .settings import Account

__all__ = ["PasswordStore", "KeyringStore", "MemoryStore", "KeyringUnavailable",
           "default_store", "SERVICE", "LOCKED"]

SERVICE = "traymail"
#: backends that would store the password in plain text or not at all
_REFUSED = ("keyrings.alt", "keyring.backends.fail", "keyring.backends.null")


#: the keyring backend chosen in this process (keyring's discovery imports
#: every backend module: done once)
_CHOSEN: object | None = None
_CHOSEN_LOCK = threading.Lock()
#: a miss of the direct Secret Service read (then the keyring package decides)
_MISS = object()


class KeyringUnavailable(Exception):
    """No secure keyring: the password cannot be stored."""


#: what to do when the keyring is there but locked (and the unlock prompt was
#: dismissed, or there is no one to show it to)
LOCKED = ("the keyring is locked: unlock it and try again (on Linux the login keyring of "
          "GNOME Keyring or KWallet -- log in to the desktop again, or unlock \"Login\" in "
          "Passwords and Keys / Seahorse; on Windows sign in again). Or set "
          "TRAYMAIL_PASSWORD_IN_MEMORY=1 to keep passwords in memory for this session only.")


def _failed(exc: Exception) -> KeyringUnavailable:
    import keyring.errors

    if isinstance(exc, keyring.errors.KeyringLocked):
        return KeyringUnavailable(LOCKED)
    return KeyringUnavailable(f"the keyring failed: {exc}")


class PasswordStore(Protocol):
    def get(self, account: Account) -> str | None: ...
    def set(self, account: Account, password: str) -> None: ...
    def delete(self, account: Account) -> None: ...


class KeyringStore:
    """The OS keyring via the ``keyring`` package (``service`` names the entries:
    ``traymail`` for passwords, ``traymail-oauth2`` for OAuth2 tokens)."""

    def __init__(self, service: str = SERVICE) -> None:
        self.service = service

    def _backend(self) -> object:
        global _CHOSEN
        import keyring

        with _CHOSEN_LOCK:
            core = sys.modules.get("keyring.core")
            if _CHOSEN is None or getattr(core, "_keyring_backend", None) is not _CHOSEN:
                _CHOSEN = keyring.get_keyring()  # honours keyring.set_keyring()
            backend = _CHOSEN
        name = type(backend).__module__
        chainer = getattr(backend, "backends", None)
        if chainer is not None:  # ChainerBackend: usable only with a real member
            if not any(not type(b).__module__.startswith(_REFUSED) for b in chainer):
                name = "keyring.backends.fail"
        if name.startswith(_REFUSED):
            raise KeyringUnavailable(_(
                "no secure keyring is available (on Linux: a Secret Service such as "
                "gnome-keyring or KeePassXC; on Windows: Credential Manager). "
                "Set TRAYMAIL_PASSWORD_IN_MEMORY=1 to keep the password in memory only."
            ))
        return backend

    def get(self, account: Account) -> str | None:
        fast = _secret_service_get(self.service, account.keyring_user)
        if fast is not _MISS:
            return fast  # type: ignore[return-value]
        import keyring.errors

        backend = self._backend()
        try:
            return backend.get_password(self.service, account.keyring_user)  # type: ignore[attr-defined,no-any-return]
        except keyring.errors.KeyringError as exc:
            raise _failed(exc) from None

    def set(self, account: Account, password: str) -> None:
        import keyring.errors

        backend = self._backend()
        try:
            backend.set_password(self.service, account.keyring_user, password)  # type: ignore[attr-defined]
        except keyring.errors.KeyringError as exc:
            raise _failed(exc) from None

    def delete(self, account: Account) -> None:
        import keyring.errors

        backend = self._backend()
        try:
            backend.delete_password(self.service, account.keyring_user)  # type: ignore[attr-defined]
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            raise _failed(exc) from None


def _keyring_configured() -> bool:
    """Does something choose the keyring backend other than keyring's own
    ranking (which puts the Secret Service first on Linux)?"""
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return True
    core = sys.modules.get("keyring.core")
    if getattr(core, "_keyring_backend", None) is not None:
        return True  # chosen in this process (keyring.set_keyring, or already detected)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config, "python_keyring", "keyringrc.cfg").exists()


def _secret_service_get(service: str, user: str) -> object:
    """The password from the Secret Service's default collection, read the way
    keyring's SecretService backend stores it (attributes ``service`` and
    ``username``), or _MISS when that cannot decide (not Linux, a configured
    backend, no daemon, locked, no such item): :mod:`traymail.secret_service`."""
    if not sys.platform.startswith("linux") or _keyring_configured():
        return _MISS
    try:
        from .secret_service import lookup
    except ImportError:  # (jeepney missing)
        return _MISS
    found = lookup({"username": user, "service": service})
    return _MISS if found is None else found


class MemoryStore:
    """Passwords held in this process only (the explicit opt-in)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, str] = {}

    def get(self, account: Account) -> str | None:
        with self._lock:
            return self._data.get(account.keyring_user)

    def set(self, account: Account, password: str) -> None:
        with self._lock:
            self._data[account.keyring_user] = password

    def delete(self, account: Account) -> None:
        with self._lock:
            self._data.pop(account.keyring_user, None)


def default_store() -> PasswordStore:
    if os.environ.get("TRAYMAIL_PASSWORD_IN_MEMORY") == "1":
        return MemoryStore()
    return KeyringStore()
