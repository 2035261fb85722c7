"""The mailbox window: headers (fetched without downloading), download,
mark, delete, preview -- every network call in a worker thread."""

from __future__ import annotations

import logging
import threading
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import messagebox, ttk
from typing import Any

from .. import platform_support
from ..accounts import Accounts
from ..i18n import _, format_size, format_time, ngettext
from ..mailbox import (
    DeleteReport,
    DownloadCancelled,
    Header,
    Mailbox,
    MailboxError,
)
from ..mimeinfo import Preview
from ..session import AccountState
from .mailbox_downloads import Downloads
from .message_list import MessageList, sender_text
from .preview import PreviewPane
from .root import Window
from .worker import TkBridge

__all__ = ["MailboxWindow", "open_path"]

log = logging.getLogger("traymail.ui")
#: listed by name in the delete confirmation (the rest are counted)
CONFIRM_LIST = 10


def open_path(path: Path) -> None:
    """Open a file with the system's default program (raises OpenFailed)."""
    platform_support.open_file(path)


class MailboxWindow(Downloads, Window):
    def __init__(self, root: tk.Misc, bridge: TkBridge, accounts: Accounts, *,
                 on_show_log: Callable[[], object] | None = None,
                 on_notice: Callable[[str], object] | None = None,
                 opener: Callable[[Path], object] = open_path,
                 folder_opener: Callable[[Path], object] = platform_support.show_in_folder,
                 confirm: Callable[[str, str], bool] | None = None,
                 on_changed: Callable[[str], object] | None = None) -> None:
        self.bridge = bridge
        #: told (account name) when new/seen counts may have changed: the badge follows
        self.on_changed = on_changed or (lambda name: None)
        self.accounts = accounts
        self.on_show_log = on_show_log or (lambda: None)
        self.on_notice = on_notice or (lambda text: log.info("%s", text))
        self.opener = opener
        self.folder_opener = folder_opener
        #: the file the last failed open was about ("Show in folder" shows it)
        self.unopened: Path | None = None
        self.confirm = confirm or (lambda title, text: messagebox.askokcancel(
            title, text, parent=self.top, icon="warning", default="cancel"))
        self.busy = False
        self.cancel = threading.Event()
        self.previews: dict[str, Preview] = {}
        self._preview_job: str | None = None
        self.last_error = ""
        #: why there is no list (e.g. "not signed in"), shown in the summary
        self.problem = ""
        self.top = tk.Toplevel(root)
        self.top.title("traymail")
        self.top.geometry("980x600")
        self.account = tk.StringVar(value=accounts.names[0] if accounts.names else "")
        self._build()
        self.top.protocol("WM_DELETE_WINDOW", self.close)
        self.load_cached()
        self.refresh()

    # -- layout ------------------------------------------------------------------
    def _build(self) -> None:
        top = self.top
        head = ttk.Frame(top, padding=(8, 8, 8, 4))
        head.pack(fill="x")
        ttk.Label(head, text=_("Account:")).pack(side="left")
        self.account_box = ttk.Combobox(head, textvariable=self.account, state="readonly",
                                        width=20, values=self.accounts.names)
        self.account_box.pack(side="left", padx=(4, 12))
        self.account_box.bind("<<ComboboxSelected>>", lambda e: self._switch_account())
        self.summary = ttk.Label(head, text="")
        self.summary.pack(side="left")
        self.spinner = ttk.Progressbar(head, mode="indeterminate", length=80)

        bar = ttk.Frame(top, padding=(8, 0, 8, 4))
        bar.pack(fill="x")
        self.buttons: dict[str, ttk.Button] = {}
        for key, text, cmd in (
            ("refresh", _("Refresh"), self.refresh),
            ("download", _("Download selected"), self.download_selected),
            ("download_new", _("Download all new"), self.download_new),
            ("mark", _("Mark / Unmark"), self.toggle_mark),
            ("delete", _("Delete marked…"), self.delete_marked),
            ("quit", _("Quit without deleting"), self.quit_without_deleting),
        ):
            b = ttk.Button(bar, text=text, command=cmd)
            b.pack(side="left", padx=(0, 4))
            self.buttons[key] = b

        panes = ttk.Panedwindow(top, orient="vertical")
        panes.pack(fill="both", expand=True, padx=8)
        store = self.accounts.store
        self.list = MessageList(panes, top, remember=lambda v: store.set_ui_state("sort", v),
                                remembered=store.ui_state("sort"),
                                on_open=self.open_selected, on_mark=self.toggle_mark)
        self.tree = self.list.tree
        panes.add(self.list.frame, weight=3)
        self.preview_pane = PreviewPane(panes)
        self.preview = self.preview_pane.text
        panes.add(self.preview, weight=1)

        self.progress_row = ttk.Frame(top, padding=(8, 4, 8, 0))
        self.progress = ttk.Progressbar(self.progress_row, mode="determinate", length=300)
        self.progress.pack(side="left")
        self.progress_label = ttk.Label(self.progress_row, text="")
        self.progress_label.pack(side="left", padx=8)
        self.cancel_button = ttk.Button(self.progress_row, text=_("Cancel"),
                                        command=self.cancel.set)
        self.cancel_button.pack(side="left")

        # the status text has its own line (wrapped), never under the buttons
        status = ttk.Frame(top, padding=(8, 4, 8, 8))
        status.pack(fill="x", side="bottom", before=panes)
        self.status = ttk.Label(status, text="", anchor="w", justify="left")
        self.status.pack(side="top", fill="x")
        status.bind("<Configure>", lambda e: self.status.configure(
            wraplength=max(200, e.width - 16)))
        row = ttk.Frame(status)
        row.pack(side="top", fill="x")
        ttk.Button(row, text=_("Protocol log"), command=self.on_show_log).pack(side="right")
        self.log_link = ttk.Label(row, text=_("Show log"), foreground="#1f4fa8",
                                  cursor="hand2")
        self.log_link.bind("<Button-1>", lambda e: self.on_show_log())
        self.folder_button = ttk.Button(row, text=_("Show in folder"),
                                        command=self.show_in_folder)

        self.menu = tk.Menu(self.top, tearoff=False)
        self.menu.add_command(label=_("Open"), command=self.open_selected)
        self.menu.add_command(label=_("Download"), command=self.download_selected)
        self.menu.add_command(label=_("Mark / Unmark for deletion"), command=self.toggle_mark)
        self.menu.add_separator()
        self.menu.add_command(label=_("Refresh"), command=self.refresh)
        from .rules_window import attach_sender_actions  # rules: trust / block sender

        attach_sender_actions(self.menu, self)

        self.tree.bind("<<TreeviewSelect>>", lambda e: self._schedule_preview())
        self.tree.bind("<Button-3>", self._context_menu)
        top.bind("<F5>", lambda e: self.refresh())
        top.bind("<Control-r>", lambda e: self.refresh())
        top.bind("<Control-d>", lambda e: self.download_selected())
        top.bind("<Control-l>", lambda e: self.on_show_log())
        top.bind("<Control-a>", lambda e: self.list.select_all())
        top.bind("<Escape>", lambda e: self.close())
        # big enough for every button and the status line
        top.update_idletasks()
        top.minsize(max(640, bar.winfo_reqwidth() + 16), 420)

    # -- helpers -------------------------------------------------------------------
    def _submit(self, fn: Callable[[], Any], on_done: Callable[[Any], object],
                on_error: Callable[[BaseException], object]) -> None:
        """Run off the Tk thread; drop the result if the window closed meanwhile."""
        self.bridge.submit(fn, lambda r: on_done(r) if self.alive else None,
                           lambda e: on_error(e) if self.alive else None)

    @property
    def headers(self) -> dict[str, Header]:
        return self.list.headers

    @property
    def mailbox(self) -> Mailbox:
        return self.accounts.mailbox(self.account.get() or None)

    def selected(self) -> list[str]:
        return self.list.selected()

    def set_busy(self, busy: bool, what: str = "") -> None:
        self.busy = busy
        if busy:
            self.spinner.pack(side="right")
            self.spinner.start(12)
            self.set_status(what + "…")
        else:
            self.spinner.stop()
            self.spinner.pack_forget()
        state = ["disabled"] if busy else ["!disabled"]
        for b in self.buttons.values():
            b.state(state)

    def set_status(self, text: str, error: bool = False) -> None:
        self.status.configure(text=text, foreground="#c0392b" if error else "")
        self.folder_button.pack_forget()
        if error:
            self.last_error = text
            self.log_link.pack(side="right")
        else:
            self.log_link.pack_forget()

    def _failed(self, what: str) -> Callable[[BaseException], None]:
        def show(exc: BaseException) -> None:
            self.set_busy(False)
            self.hide_progress()
            if isinstance(exc, DownloadCancelled):
                self.set_status(_("Download cancelled; nothing half-written was kept."))
                return
            if not_signed_in(exc):
                self.problem = _("Not signed in")
                self._update_summary()
            # TRANSLATORS: {what} is Refresh, Download or Delete
            self.set_status(_("{what} failed: {error}").format(what=what, error=exc),
                            error=True)
        return show

    # -- headers -------------------------------------------------------------------
    def load_cached(self) -> None:
        if not self.accounts.names:
            self.problem = _("No account")
            self.set_status(_("No account yet: open Settings to add one."))
            self._update_summary()
            return
        self.show_headers(self.mailbox.cached_headers())

    def accounts_changed(self) -> None:
        """Settings saved: new accounts appear in the chooser."""
        names = self.accounts.names
        self.account_box.configure(values=names)
        if self.account.get() not in names:
            self.account.set(names[0] if names else "")
            self._switch_account()

    def refresh(self, note: str = "") -> None:
        """Fetch headers (only the uncached ones travel); ``note`` stays in the status."""
        if self.busy or not self.accounts.names:
            return
        mb = self.mailbox
        fetching = _("Fetching headers from {host}").format(host=mb.account.host)
        self.set_busy(True, f"{note} {fetching}".strip())
        self._submit(mb.headers, lambda hs: self._refreshed(hs, note),
                           self._failed(_("Refresh")))

    def _refreshed(self, headers: list[Header], note: str = "") -> None:
        self.set_busy(False)
        self.problem = ""
        self.show_headers(headers)
        checked = _("Checked {time}.").format(time=format_time(time.time()))
        self.set_status(f"{note} {checked}".strip())
        self.on_changed(self.mailbox.name)

    def show_headers(self, headers: list[Header]) -> None:
        self.list.show(headers)
        self._update_summary()

    def _update_summary(self) -> None:
        hs = list(self.headers.values())
        new = sum(1 for h in hs if h.new)
        marked = [h for h in hs if h.marked]
        size = sum(h.size or 0 for h in hs)
        name = self.account.get()
        self.top.title(ngettext("traymail — {name}: {n} new", "traymail — {name}: {n} new",
                                new).format(name=name, n=new) if name else "traymail")
        if self.problem and not hs:
            self.summary.configure(text=self.problem)
            return
        # TRANSLATORS: the mailbox summary: "12 messages, 3 new, 1.4 MB"
        text = _("{messages}, {new}, {size}").format(
            messages=ngettext("{n} message", "{n} messages", len(hs)).format(n=len(hs)),
            new=ngettext("{n} new", "{n} new", new).format(n=new), size=format_size(size))
        if marked:
            text += ngettext("; {n} marked for deletion", "; {n} marked for deletion",
                             len(marked)).format(n=len(marked))
        status = self.mailbox.status if self.accounts.names else None
        if status is not None and status.checked_at:
            text += _("; checked {time}").format(time=format_time(status.checked_at))
        self.summary.configure(text=text)

    def sort_by(self, column: str) -> None:
        self.list.sort_by(column)

    def _switch_account(self) -> None:
        self.previews.clear()
        self.problem = ""
        self.load_cached()
        self.refresh()

    # -- preview -------------------------------------------------------------------
    def _schedule_preview(self) -> None:
        if self._preview_job is not None:
            self.top.after_cancel(self._preview_job)
        self._preview_job = self.top.after(350, self.show_preview)

    def show_preview(self) -> None:
        self._preview_job = None
        sel = self.selected()
        if len(sel) != 1:
            return
        uid = sel[0]
        header = self.headers.get(uid)
        if uid in self.previews:
            p = self.previews[uid]
            self.preview_pane.show_message(header, p, p.text)
            return
        self.preview_pane.show_message(header, None, "" if self.busy else
                                       _("Loading the first lines…"))
        if self.busy:
            return
        mb = self.mailbox

        def done(p: Preview) -> None:
            self.previews[uid] = p
            if self.selected() == [uid]:
                self.preview_pane.show_message(self.headers.get(uid), p, p.text)

        self._submit(lambda: mb.preview_details(uid, 40), done,
                     lambda exc: self.preview_pane.show_message(
                         self.headers.get(uid), None, _("No preview: {error}").format(error=exc)))

    # -- marks / delete ------------------------------------------------------------------
    def toggle_mark(self) -> None:
        uids = self.selected()
        if not uids:
            return
        mb = self.mailbox
        if all(self.headers[u].marked for u in uids if u in self.headers):
            mb.unmark(uids)
        else:
            mb.mark(uids)
        fresh = mb.cached_headers({u: h.number or 0 for u, h in self.headers.items()})
        self.list.update(h for h in fresh if h.uid in set(uids))
        self._update_summary()

    def delete_marked(self) -> None:
        if self.busy:
            return
        marked = [h for h in self.headers.values() if h.marked]
        if not marked:
            self.set_status(_("Nothing is marked for deletion (select messages, press Del)."))
            return
        mb = self.mailbox
        if not self.confirm(_("Delete from {name}").format(name=mb.name),
                            confirm_text(mb, marked)):
            return
        self.set_busy(True, ngettext("Deleting {n} message", "Deleting {n} messages",
                                     len(marked)).format(n=len(marked)))
        self._submit(mb.delete_marked, self._deleted, self._failed(_("Delete")))

    def _deleted(self, report: DeleteReport) -> None:
        self.set_busy(False)
        n = len(report.deleted)
        parts = [ngettext("Deleted {n} message.", "Deleted {n} messages.", n).format(n=n)]
        if report.gone:
            n = len(report.gone)
            parts.append(ngettext("{n} were already gone from the server.",
                                  "{n} were already gone from the server.", n).format(n=n))
        if report.failed:
            n = len(report.failed)
            parts.append(ngettext("{n} NOT deleted: {error}", "{n} NOT deleted: {error}", n)
                         .format(n=n, error=report.failed[0][1]))
        for uid in (*report.deleted, *report.gone):
            self.headers.pop(uid, None)
        self.show_headers(list(self.headers.values()))
        if report.failed:
            self.set_status(" ".join(parts), error=True)
        else:
            self.refresh(note=" ".join(parts))

    def quit_without_deleting(self) -> None:
        count = self.mailbox.quit_without_deleting() if self.accounts.names else 0
        if count:  # nothing was marked: nothing to say
            self.on_notice(ngettext(
                "Closed without deleting: {n} mark discarded; the server keeps every message.",
                "Closed without deleting: {n} marks discarded; the server keeps every message.",
                count).format(n=count))
        self.close()

    # -- window ------------------------------------------------------------------------
    def _context_menu(self, event: tk.Event) -> None:  # type: ignore[type-arg]
        row = self.tree.identify_row(event.y)
        if row and row not in self.selected():
            self.tree.selection_set(row)
        self.menu.tk_popup(event.x_root, event.y_root)

    def show(self) -> None:
        super().show()
        self.top.focus_force()
        self.tree.focus_set()  # the arrow keys work at once

    def close(self) -> None:
        self.cancel.set()
        if self._preview_job is not None:  # (its command dies with the window: a
            self.top.after_cancel(self._preview_job)  # timer firing into it is a Tcl error)
            self._preview_job = None
        self.destroy_window()


def not_signed_in(exc: BaseException) -> bool:
    """No password stored, a refused login, or an OAuth2 sign-in needed."""
    if not isinstance(exc, MailboxError):
        return False
    return exc.state in (AccountState.NEEDS_SIGN_IN, AccountState.AUTH_FAILED) or (
        exc.state is AccountState.STOPPED and "no password" in str(exc))


def confirm_text(mb: Mailbox, marked: list[Header]) -> str:
    """The delete confirmation: the account, and the messages by sender and subject."""
    size = format_size(sum(h.size or 0 for h in marked))
    n = len(marked)
    lines = [ngettext("Delete {n} message ({size}) from the server of {name} "
                      "({user} at {host})?",
                      "Delete {n} messages ({size}) from the server of {name} "
                      "({user} at {host})?", n).format(
                 n=n, size=size, name=mb.name, user=mb.account.username,
                 host=mb.account.host), ""]
    for h in marked[:CONFIRM_LIST]:
        subject = h.subject or _("(no subject)")
        lines.append(f"• {sender_text(h.sender)}: {subject}")
    if n > CONFIRM_LIST:
        more = n - CONFIRM_LIST
        lines.append(ngettext("and {n} more", "and {n} more", more).format(n=more))
    lines += ["", _("This cannot be undone.")]
    return "\n".join(lines)
