"""What the engine's operations return (frozen, to hand to any thread)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["CheckResult", "Header", "DeleteReport"]


@dataclass(frozen=True)
class CheckResult:
    new_count: int
    new_size: int
    total_count: int
    total_size: int
    newly_arrived: tuple[str, ...]
    #: the first check of this account: newly_arrived is the whole mailbox,
    #: to be shown as one summary
    first_run: bool = False
    # -- rules (traymail.ruling): newly arrived messages an "important" rule
    # matched (a toast even when paused), the sound to play (None: silence),
    # how many new messages an "ignore" rule kept out of the counts
    important: tuple[str, ...] = ()
    sound: str | None = None
    ignored: int = 0


@dataclass(frozen=True)
class Header:
    uid: str
    number: int | None
    size: int | None
    sender: str
    recipients: str
    subject: str
    date: str
    timestamp: float | None
    message_id: str
    new: bool
    marked: bool
    downloaded: Path | None
    #: the rule that matched (traymail.rules), None: none
    rule: str | None = None
    #: the top-level Content-Type says it carries attachments
    attachments: bool = False


@dataclass(frozen=True)
class DeleteReport:
    deleted: tuple[str, ...] = ()
    #: marked, but no longer on the server (never guessed)
    gone: tuple[str, ...] = ()
    #: (uid, reason): not deleted
    failed: tuple[tuple[str, str], ...] = ()
