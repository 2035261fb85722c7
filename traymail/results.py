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


@dataclass(frozen=True)
class DeleteReport:
    deleted: tuple[str, ...] = ()
    #: marked, but no longer on the server (never guessed)
    gone: tuple[str, ...] = ()
    #: (uid, reason): not deleted
    failed: tuple[tuple[str, str], ...] = ()
