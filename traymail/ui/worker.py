"""Run engine calls off the Tk thread; deliver results on it.

Worker threads put callables on a queue; the Tk thread drains it (the
porcupine pattern). Nothing but the Tk thread ever touches a widget.

Waking the Tk thread costs CPU when idle, so: on Unix a posting thread also
writes one byte to a pipe that Tk watches (``createfilehandler``), which
wakes it at once and lets the ``after()`` poll slow down to once a second;
elsewhere the poll runs every 50 ms while things happen and every 250 ms
after two quiet seconds.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import time
import tkinter as tk
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger("traymail.ui")
T = TypeVar("T")
POLL_MS = 50
IDLE_POLL_MS = 250
WATCHED_POLL_MS = 1000
QUIET_SECONDS = 2.0


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
        self._last_work = time.monotonic()
        self._pipe: tuple[int, int] | None = None
        if hasattr(root.tk, "createfilehandler") and os.name == "posix":
            try:
                r, w = os.pipe()
                os.set_blocking(r, False)
                os.set_blocking(w, False)
                root.tk.createfilehandler(r, tk.READABLE, self._woken)
                self._pipe = (r, w)
            except (OSError, tk.TclError, AttributeError):
                self._pipe = None
        self._after: str | None = root.after(POLL_MS, self._poll)

    def post(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the Tk thread soon (callable from any thread)."""
        if self._closed:
            return
        self._queue.put(fn)
        if self._pipe is not None:
            try:
                os.write(self._pipe[1], b"!")
            except OSError:  # full (already woken) or closed
                pass

    def _woken(self, fd: int, mask: int) -> None:
        try:
            while os.read(fd, 4096):
                pass
        except OSError:
            pass
        self._drain()

    def _drain(self) -> None:
        for _ in range(500):  # bounded: a flood never freezes the window
            try:
                fn = self._queue.get_nowait()
            except queue.Empty:
                break
            self._last_work = time.monotonic()
            try:
                fn()
            except Exception:
                log.exception("a UI callback failed")

    def _poll(self) -> None:
        if self._closed:
            return
        self._drain()
        if self._pipe is not None:
            delay = WATCHED_POLL_MS
        elif time.monotonic() - self._last_work < QUIET_SECONDS or self.running:
            delay = POLL_MS
        else:
            delay = IDLE_POLL_MS
        try:
            self._after = self.root.after(delay, self._poll)
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
        if self._pipe is not None:
            r, w = self._pipe
            self._pipe = None
            try:
                self.root.tk.deletefilehandler(r)
            except (tk.TclError, AttributeError):
                pass
            os.close(r)
            os.close(w)
        if self._after is not None:
            try:
                self.root.after_cancel(self._after)
            except tk.TclError:
                pass
            self._after = None
