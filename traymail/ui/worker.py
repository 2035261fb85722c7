"""Run engine calls off the main thread; deliver results on it.

Worker threads put callables on a queue; the main thread drains it (the
porcupine pattern). Nothing but the main thread ever touches a widget.

Until the first window opens there is no Tk at all (an idle tray app does
not need its ~10 MiB): :meth:`TkBridge.run` is then the main thread's loop,
a blocking wait on the queue and on the timers of :meth:`TkBridge.after`.
From :meth:`TkBridge.attach` on, Tk's main loop drains the queue instead.

Waking the Tk thread costs CPU when idle, so: on Unix a posting thread also
writes one byte to a pipe that Tk watches (``createfilehandler``), which
wakes it at once and lets the ``after()`` poll slow down to once a second;
elsewhere the poll runs every 50 ms while things happen and every 250 ms
after two quiet seconds.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # tkinter is imported with the first window (attach)
    import tkinter as tk

log = logging.getLogger("traymail.ui")
T = TypeVar("T")
POLL_MS = 50
IDLE_POLL_MS = 250
WATCHED_POLL_MS = 1000
QUIET_SECONDS = 2.0
#: the longest wait of :meth:`TkBridge.run` (a signal delivered to another
#: thread does not interrupt the main thread's wait)
RUN_WAKE_SECONDS = 1.0


class TkBridge:
    """The one queue from any thread to the main (Tk) thread."""

    def __init__(self, root: tk.Misc | None = None) -> None:
        self.root: tk.Misc | None = None
        self._queue: queue.SimpleQueue[Callable[[], Any]] = queue.SimpleQueue()
        self._tk_thread = threading.get_ident()
        self._closed = False
        self._tokens = itertools.count()
        self._callbacks: dict[int, tuple[Any, Any]] = {}
        self.running = 0
        self._last_work = time.monotonic()
        self._pipe: tuple[int, int] | None = None
        self._after: str | None = None
        #: (due, order, fn) of after() calls made before Tk (a heap)
        self._timers: list[tuple[float, int, Callable[[], Any]]] = []
        #: Tk's ids of after() calls still pending (cancelled by close())
        self._tk_timers: set[str] = set()
        if root is not None:
            self.attach(root)

    def attach(self, root: tk.Misc) -> None:
        """From now on Tk's main loop drains the queue; pending timers move to Tk."""
        import tkinter as tk

        self.root = root
        if hasattr(root.tk, "createfilehandler") and os.name == "posix":
            try:
                r, w = os.pipe()
                os.set_blocking(r, False)
                os.set_blocking(w, False)
                root.tk.createfilehandler(r, tk.READABLE, self._woken)
                self._pipe = (r, w)
            except (OSError, tk.TclError, AttributeError):
                self._pipe = None
        self._after = root.after(POLL_MS, self._poll)
        now = time.monotonic()
        for due, _, fn in sorted(self._timers):
            self._tk_after(max(0, int((due - now) * 1000)), fn)
        self._timers.clear()

    def after(self, ms: int, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the main thread in ``ms`` milliseconds (main thread only)."""
        if self._closed:
            return
        if self.root is not None:
            self._tk_after(ms, fn)
        else:
            heapq.heappush(self._timers, (time.monotonic() + ms / 1000, next(self._tokens), fn))

    def _tk_after(self, ms: int, fn: Callable[[], Any]) -> None:
        assert self.root is not None
        ident = ""

        def fire() -> None:
            self._tk_timers.discard(ident)
            self._call(fn)

        ident = self.root.after(ms, fire)
        self._tk_timers.add(ident)

    def run(self, until: Callable[[], bool]) -> None:
        """The main thread's loop while there is no Tk: run what is posted and
        the timers that are due, until ``until()`` is true (checked after each)."""
        while not self._closed and not until():
            wait = RUN_WAKE_SECONDS
            if self._timers:
                wait = min(wait, max(0.0, self._timers[0][0] - time.monotonic()))
            try:
                fn: Callable[[], Any] | None = self._queue.get(timeout=wait)
            except queue.Empty:
                fn = None
            if fn is not None:
                self._call(fn)
            while self._timers and self._timers[0][0] <= time.monotonic() \
                    and self.root is None:
                self._call(heapq.heappop(self._timers)[2])

    def _call(self, fn: Callable[[], Any]) -> None:
        self._last_work = time.monotonic()
        try:
            fn()
        except Exception:
            log.exception("a UI callback failed")

    def post(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the main thread soon (callable from any thread)."""
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
            self._call(fn)

    def _poll(self) -> None:
        if self._closed or self.root is None:
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
        except Exception:  # the root is gone (TclError)
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
        self._timers.clear()
        root = self.root
        if root is None:
            return
        import tkinter as tk

        if self._pipe is not None:
            r, w = self._pipe
            self._pipe = None
            try:
                root.tk.deletefilehandler(r)
            except (tk.TclError, AttributeError):
                pass
            os.close(r)
            os.close(w)
        for ident in [*self._tk_timers, *([self._after] if self._after else [])]:
            try:  # none is left to fire into a destroyed root's deleted commands
                root.after_cancel(ident)
            except tk.TclError:
                pass
        self._tk_timers.clear()
        self._after = None
