"""Passwords live in the OS keyring (service ``traymail``, user ``username@host:port``).

Never in settings.json, never in a log. When no secure keyring is available
(no Secret Service on Linux, or only a plain-text backend such as
keyrings.alt), :class:`KeyringStore` raises :class:`KeyringUnavailable` with
what to do. The documented opt-in ``TRAYMAIL_PASSWORD_IN_MEMORY=1`` keeps
passwords in memory for the life of the process instead (asked again at each
start).
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

from .i18n import _
from .settings import Account

__all__ = ["PasswordStore", "KeyringStore", "MemoryStore", "KeyringUnavailable",
           "default_store", "SERVICE", "LOCKED"]

SERVICE = "traymail"
#: backends that would store the password in plain text or not at all
_REFUSED = ("keyrings.alt", "keyring.backends.fail", "keyring.backends.null")


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
        import keyring

        backend = keyring.get_keyring()
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
