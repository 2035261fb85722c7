"""The text of a new-mail toast."""

from __future__ import annotations

from dataclasses import dataclass

from .decode import format_size
from .mailbox import CheckResult, Header

__all__ = ["Toast", "toast_text"]


@dataclass(frozen=True)
class Toast:
    title: str
    message: str


def toast_text(account: str, result: CheckResult, arrived_size: int,
               headers: list[Header], several_accounts: bool) -> Toast:
    """ "3 new messages (45 KB)" with the top senders/subjects; one summary on first run."""
    n = len(result.newly_arrived)
    where = f" — {account}" if several_accounts else ""
    if result.first_run:
        title = f"{n} message{'s' if n != 1 else ''} waiting ({format_size(arrived_size)}){where}"
    else:
        title = f"{n} new message{'s' if n != 1 else ''} ({format_size(arrived_size)}){where}"
    by_uid = {h.uid: h for h in headers}
    lines = []
    for uid in result.newly_arrived[:3]:
        h = by_uid.get(uid)
        if h is not None:
            sender = h.sender.split("<")[0].strip().strip('"') or h.sender
            lines.append(f"{sender}: {h.subject or '(no subject)'}")
    if n > len(lines) and lines:
        lines.append(f"and {n - len(lines)} more")
    return Toast(title, "\n".join(lines) or "Click to open the mailbox.")
