"""The running set of accounts: settings, state, passwords and one
:class:`~traymail.mailbox.Mailbox` per account. Shared by the tray, the Tk
windows and the console; no GUI imports."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .mailbox import Mailbox
from .passwords import PasswordStore, default_store
from .pop3 import TranscriptEvent
from .settings import Account, Paths, Settings, load_settings, save_settings
from .store import Store

if TYPE_CHECKING:
    from .oauth import TokenManager

__all__ = ["Accounts"]

TranscriptListener = Callable[[str, TranscriptEvent], None]


class Accounts:
    def __init__(self, paths: Paths, settings: Settings | None = None,
                 passwords: PasswordStore | None = None, store: Store | None = None,
                 tokens: TokenManager | None = None) -> None:
        self.paths = paths
        #: OAuth2 tokens (None: the keyring, created when an OAuth2 account needs it)
        self.tokens = tokens
        self.settings = settings if settings is not None else load_settings(paths.settings_file)
        self.passwords = passwords if passwords is not None else default_store()
        self.store = store if store is not None else Store(paths.state_db)
        #: set when settings.json could not be read: shown to the user, and the
        #: file is moved aside (never overwritten) before the next save
        self.damaged_settings: Exception | None = None
        self._lock = threading.Lock()
        self._boxes: dict[str, Mailbox] = {}
        self._listeners: list[TranscriptListener] = []
        self._sync()

    def _sync(self) -> None:
        with self._lock:
            names = {a.name for a in self.settings.accounts}
            for name in list(self._boxes):
                if name not in names:
                    self._boxes.pop(name).close()  # its transcript log file
            for account in self.settings.accounts:
                box = self._boxes.get(account.name)
                if box is None:
                    box = Mailbox(account, self.store, self.passwords, self.paths,
                                  tokens=self.tokens)
                    box.listeners.append(self._fan_out)
                    self._boxes[account.name] = box
                elif box.account != account:
                    box.update_account(account)
                box.rules = self.settings.rules  # traymail.rules

    def _fan_out(self, name: str, event: TranscriptEvent) -> None:
        for listener in list(self._listeners):
            listener(name, event)

    def add_listener(self, listener: TranscriptListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: TranscriptListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.settings.accounts]

    def mailbox(self, name: str | None = None) -> Mailbox:
        account = self.settings.account(name)
        with self._lock:
            return self._boxes[account.name]

    def mailboxes(self, enabled_only: bool = True) -> list[Mailbox]:
        with self._lock:
            return [self._boxes[a.name] for a in self.settings.accounts
                    if a.enabled or not enabled_only]

    def apply(self, settings: Settings, passwords: dict[str, str] | None = None) -> None:
        """Save new settings (atomically) and passwords (keyring), then adopt them."""
        for account in settings.accounts:
            password = (passwords or {}).get(account.name)
            if password:
                self.passwords.set(account, password)
        if self.damaged_settings is not None and self.paths.settings_file.exists():
            stamp = time.strftime("%Y%m%d-%H%M%S")
            self.paths.settings_file.rename(
                self.paths.settings_file.with_name(f"settings.json.damaged-{stamp}"))
        save_settings(settings, self.paths.settings_file)
        self.damaged_settings = None
        self.settings = settings
        self._sync()

    def password(self, account: Account) -> str | None:
        return self.passwords.get(account)

    def close(self) -> None:
        """Close every file this holds open: transcript logs and the state DB."""
        with self._lock:
            boxes = list(self._boxes.values())
        for box in boxes:
            box.close()
        self.store.close()
