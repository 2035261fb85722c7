"""Run engine calls off the Tk thread; deliver results on it.

Worker threads put callables on a ``queue.Queue``; the Tk thread drains it
every 50 ms with ``after()`` (the porcupine pattern). Nothing but the Tk
thread ever touches a widget.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import tkinter as tk
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger("traymail.ui")
T = TypeVar("T")
POLL_MS = 50


class TkBridge:
    """The one queue from any thread to the Tk thread."""

    def __init__(self, root: tk.Misc) -> None:
        self.root = root
        self._queue: queue.SimpleQueue[Callable[[], Any]] = queue.SimpleQueue()
        self._tk_thread = threading.get_ident()
        self._closed = False
        self._tokens = itertools.count()
        self._callbacks: dict[int, tuple[Any, Any]] = {}
        self.running = 0
        self._after: str | None = root.after(POLL_MS, self._poll)

    def post(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the Tk thread soon (callable from any thread)."""
        if not self._closed:
            self._queue.put(fn)

    def _poll(self) -> None:
        if self._closed:
            return
        for _ in range(500):  # bounded: a flood never freezes the window
            try:
                fn = self._queue.get_nowait()
            except queue.Empty:
                break
            try:
                fn()
            except Exception:
                log.exception("a UI callback failed")
        try:
            self._after = self.root.after(POLL_MS, self._poll)
        except tk.TclError:  # the root is gone
            self._closed = True

    def submit(self, fn: Callable[[], T], on_done: Callable[[T], Any] | None = None,
               on_error: Callable[[BaseException], Any] | None = None,
               name: str = "traymail-worker") -> threading.Thread:
        """Run ``fn`` in a daemon thread; ``on_done``/``on_error`` on the Tk thread.

        The callbacks stay here, on the Tk side: a worker thread must never hold
        the last reference to a window, or Tk objects would be freed in it."""
        self.running += 1
        token = next(self._tokens)
        self._callbacks[token] = (on_done, on_error)

        def run() -> None:
            try:
                result = fn()
            except BaseException as exc:  # reported, never lost
                if not isinstance(exc, Exception):
                    log.exception("worker stopped")
                err = exc
                self.post(lambda: self._finish(token, None, err))
            else:
                self.post(lambda: self._finish(token, result, None))

        t = threading.Thread(target=run, name=name, daemon=True)
        t.start()
        return t

    def _finish(self, token: int, result: Any, error: BaseException | None) -> None:
        self.running -= 1
        on_done, on_error = self._callbacks.pop(token)
        if error is None:
            if on_done is not None:
                on_done(result)
        elif on_error is not None:
            on_error(error)
        else:
            log.error("background task failed: %s", error)

    def close(self) -> None:
        self._closed = True
        if self._after is not None:
            try:
                self.root.after_cancel(self._after)
            except tk.TclError:
                pass
            self._after = None
