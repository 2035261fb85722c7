"""The mailbox window's downloads: selected or all new messages with a
progress bar and Cancel, opening a message with the system's program, and
"Show in folder" when that fails (mixed into
:class:`~traymail.ui.mailbox_window.MailboxWindow`)."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk
from typing import TYPE_CHECKING, Any

from .. import platform_support
from ..i18n import _, format_size, ngettext
from ..mailbox import DownloadFailed, Header, Mailbox

if TYPE_CHECKING:
    from ..accounts import Accounts
    from .worker import TkBridge

__all__ = ["Downloads"]

log = logging.getLogger("traymail.ui")


class Downloads:
    """Download and open; the widgets and helpers come from the window class."""

    if TYPE_CHECKING:  # provided by MailboxWindow
        bridge: TkBridge
        accounts: Accounts
        busy: bool
        cancel: threading.Event
        opener: Callable[[Path], object]
        folder_opener: Callable[[Path], object]
        unopened: Path | None
        on_changed: Callable[[str], object]
        tree: ttk.Treeview
        status: ttk.Label
        progress: ttk.Progressbar
        progress_label: ttk.Label
        progress_row: ttk.Frame
        folder_button: ttk.Button

        @property
        def alive(self) -> bool: ...
        @property
        def headers(self) -> dict[str, Header]: ...
        @property
        def mailbox(self) -> Mailbox: ...
        selected: Callable[[], list[str]]
        set_busy: Callable[..., None]
        set_status: Callable[..., None]
        show_headers: Callable[[list[Header]], None]
        _failed: Callable[[str], Callable[[BaseException], None]]
        _submit: Callable[[Callable[[], Any], Callable[[Any], object],
                           Callable[[BaseException], object]], None]

    def download_selected(self, then: Callable[[list[Path]], object] | None = None) -> None:
        uids = self.selected()
        if uids:
            self._download(lambda mb, p, c: mb.download(uids, p, c), then)

    def download_new(self) -> None:
        self._download(lambda mb, p, c: mb.download_new(p, c), None)

    def _download(self, job: Callable[..., list[Path]],
                  then: Callable[[list[Path]], object] | None) -> None:
        if self.busy:
            return
        mb = self.mailbox
        self.cancel.clear()
        self.set_busy(True, _("Downloading"))
        self.show_progress()

        me = weakref.ref(self)  # the worker must not keep the window alive
        post = self.bridge.post

        def progress(done: int, total: int) -> None:  # worker thread
            post(lambda: (w := me()) is not None and w.alive and w.update_progress(done, total))

        def finished(paths: list[Path]) -> None:
            self.set_busy(False)
            self.hide_progress()
            self.set_status(ngettext("Downloaded {n} message to {folder}",
                                     "Downloaded {n} messages to {folder}", len(paths)).format(
                n=len(paths), folder=self.accounts.paths.download_dir_for(mb.account)))
            self.show_headers(mb.cached_headers({u: h.number or 0 for u, h in
                                                 self.headers.items()}))
            self.on_changed(mb.name)
            if then is not None:
                then(paths)

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, DownloadFailed):
                self._failed(_("Download"))(exc)
                return
            self.set_busy(False)
            self.hide_progress()
            self.set_status(ngettext("Downloaded {n} message; {error}",
                                     "Downloaded {n} messages; {error}", len(exc.files)).format(
                n=len(exc.files), error=exc), error=True)
            self.show_headers(mb.cached_headers({u: h.number or 0 for u, h in
                                                 self.headers.items()}))

        cancel = self.cancel
        self._submit(lambda: job(mb, progress, cancel), finished, failed)

    def show_progress(self) -> None:
        self.progress.configure(value=0, maximum=1)
        self.progress_label.configure(text="")
        self.progress_row.pack(fill="x", before=self.status.master)

    def update_progress(self, done: int, total: int) -> None:
        self.progress.configure(maximum=max(total, 1), value=done)
        self.progress_label.configure(text=_("{done} of {total}").format(
            done=format_size(done), total=format_size(total)))

    def hide_progress(self) -> None:
        self.progress_row.pack_forget()

    def open_selected(self) -> None:
        sel = self.selected()
        if not sel:
            return
        header = self.headers.get(sel[0])
        if header is not None and header.downloaded is not None:
            self.open_file(header.downloaded)
            return
        self.tree.selection_set(sel[:1])
        self.download_selected(then=lambda paths: [self.open_file(p) for p in paths[:1]])

    def open_file(self, path: Path) -> None:
        """Hand ``path`` to the system's program for it, off the Tk thread; when
        there is none, say so and offer "Show in folder" (never a Tk error)."""
        def failed(exc: BaseException) -> None:
            if not isinstance(exc, (platform_support.OpenFailed, OSError)):
                raise exc
            self.unopened = path
            detail = getattr(exc, "detail", "")
            log.info("cannot open %s: %s%s", path, exc, f" ({detail})" if detail else "")
            self.set_status(_("{error}. It is saved as {name}.").format(error=exc, name=path.name),
                            error=True)
            self.folder_button.pack(side="right", padx=(4, 0))

        self._submit(lambda: self.opener(path), lambda r: None, failed)

    def show_in_folder(self) -> None:
        path = self.unopened
        if path is None:
            return

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, (platform_support.OpenFailed, OSError)):
                raise exc
            self.set_status(_("{error}. The file is {path}").format(error=exc, path=path),
                            error=True)

        self._submit(lambda: self.folder_opener(path), lambda r: None, failed)
