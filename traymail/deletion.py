"""Deletion, the one irreversible act (a mixin of :class:`~traymail.mailbox.Mailbox`).

Marks are kept in the state DB with the size seen when marking. Deleting
maps each marked UID to its message number with a UIDL *in the same session*
(numbers last one session only, RFC 1939 §5), checks the size, DELEs exactly
those and QUITs: the deletions happen at QUIT (RFC 1939 §6), so any error
before it deletes nothing.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from .i18n import _
from .pop3 import POP3Error
from .results import DeleteReport

if TYPE_CHECKING:
    from .pop3 import POP3, Stat
    from .store import Store

__all__ = ["Deleting"]


class Deleting:
    if TYPE_CHECKING:
        store: Store

        @property
        def name(self) -> str: ...
        def _session(self) -> AbstractContextManager[POP3]: ...
        def _scan(self, pop: POP3, stat: bool = True, listing: bool = True
                  ) -> tuple[Stat | None, list[tuple[int, str]], dict[int, int]]: ...
        def _note(self, text: str) -> None: ...

    def mark(self, uids: list[str]) -> None:
        sizes = self.store.sizes(self.name)
        self.store.mark(self.name, {u: sizes.get(u) for u in uids})

    def unmark(self, uids: list[str]) -> None:
        self.store.unmark(self.name, uids)

    def marked(self) -> list[str]:
        return list(self.store.marks(self.name))

    def delete_marked(self, only: list[str] | None = None) -> DeleteReport:
        """One session: UIDL re-check, DELE exactly the marked messages still
        there with the recorded size, QUIT. Any error before QUIT deletes nothing.
        ``only`` restricts it to some of the marks."""
        marks = self.store.marks(self.name)
        if only is not None:
            marks = {u: s for u, s in marks.items() if u in set(only)}
        if not marks:
            return DeleteReport()
        deleted: list[str] = []
        gone: list[str] = []
        failed: list[tuple[str, str]] = []
        with self._session() as pop:
            _stat, ids, sizes = self._scan(pop)  # the UIDL re-check, in this session
            numbers = {u: n for n, u in ids}
            chosen: list[tuple[str, int]] = []
            for uid, size in marks.items():
                n = numbers.get(uid)
                if n is None:
                    gone.append(uid)
                elif size is not None and sizes.get(n) != size:
                    failed.append((uid, _("its size changed: the server may have reused "
                                          "the id for another message; not deleted")))
                else:
                    chosen.append((uid, n))
            if chosen:
                pop.dele_many([n for _, n in chosen])
                self._note(f"deleting {len(chosen)} message{'s' if len(chosen) != 1 else ''}"
                           " at QUIT")
                try:
                    pop.quit()  # RFC 1939 §6: the deletions happen now
                except POP3Error as exc:
                    why = _("the server did not confirm QUIT ({reason}); check again to see "
                            "what remains").format(reason=exc)
                    failed += [(u, why) for u, _n in chosen]
                    chosen = []
                deleted = [u for u, _ in chosen]
        self.store.forget(self.name, deleted + gone)
        return DeleteReport(tuple(deleted), tuple(gone), tuple(failed))

    def quit_without_deleting(self) -> int:
        """Discard every mark; the server keeps everything. Returns how many."""
        count = len(self.store.marks(self.name))
        self.store.unmark(self.name)
        return count

