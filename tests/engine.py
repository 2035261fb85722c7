"""Helpers to build engine objects on a temporary home (portable mode)."""

from __future__ import annotations

from pathlib import Path

from traymail.mailbox import Mailbox
from traymail.passwords import MemoryStore
from traymail.settings import Account, Paths, Security, resolve_paths
from traymail.store import Store


class Engine:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.paths: Paths = resolve_paths(home=home)
        self.store = Store(self.paths.state_db)
        self.passwords = MemoryStore()

    def mailbox(self, port: int, password: str = "pass", username: str = "user",
                security: Security = Security.NONE, **kw: object) -> Mailbox:
        account = Account(name=str(kw.pop("name", "test")), host="127.0.0.1",
                          username=username, security=security, port=port,
                          allow_insecure=security is Security.NONE, **kw)  # type: ignore[arg-type]
        self.passwords.set(account, password)
        return Mailbox(account, self.store, self.passwords, self.paths, timeout=5)

    def files(self) -> list[Path]:
        """Every file under the home (downloads, logs, state)."""
        return sorted(p for p in self.home.rglob("*") if p.is_file())
