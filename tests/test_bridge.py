"""The main thread's bridge (traymail.ui.worker.TkBridge) before and after
Tk: an idle tray app runs without Tk, on the bridge's own loop (issue 15,
idle memory); the first window attaches Tk and its loop takes over."""

from __future__ import annotations

import threading
import time
import tkinter as tk

from traymail.ui.worker import TkBridge


def test_without_tk_posts_from_other_threads_run_on_the_main_thread() -> None:
    bridge = TkBridge()
    ran: list[tuple[int, int]] = []
    main = threading.get_ident()

    def worker() -> None:
        for n in range(50):
            bridge.post(lambda n=n: ran.append((n, threading.get_ident())))
        bridge.post(lambda: ran.append((-1, threading.get_ident())))

    threading.Thread(target=worker).start()
    bridge.run(until=lambda: bool(ran) and ran[-1][0] == -1)
    assert [n for n, _ in ran] == [*range(50), -1]  # in order
    assert {ident for _, ident in ran} == {main}
    assert bridge.root is None  # no Tk was made


def test_without_tk_timers_run_in_due_order_and_a_failing_one_is_logged(caplog: object) -> None:
    bridge = TkBridge()
    ran: list[str] = []
    t0 = time.monotonic()
    bridge.after(300, lambda: ran.append("late"))
    bridge.after(100, lambda: 1 / 0)
    bridge.after(50, lambda: ran.append("early"))
    bridge.run(until=lambda: "late" in ran)
    assert ran == ["early", "late"]
    assert time.monotonic() - t0 >= 0.29
    assert "a UI callback failed" in caplog.text  # type: ignore[attr-defined]


def test_submit_without_tk_delivers_the_result_on_the_main_thread() -> None:
    bridge = TkBridge()
    got: list[tuple[object, int]] = []
    bridge.submit(lambda: 42, on_done=lambda v: got.append((v, threading.get_ident())))
    bridge.submit(lambda: 1 / 0, on_error=lambda e: got.append((type(e), threading.get_ident())))
    bridge.run(until=lambda: len(got) == 2)
    assert sorted(got, key=str) == sorted([(42, threading.get_ident()),
                                           (ZeroDivisionError, threading.get_ident())], key=str)
    assert bridge.running == 0


def test_run_returns_once_until_is_true_after_a_post_that_makes_it_so() -> None:
    """The app's loop: a posted call that opens the first window (makes Tk)
    ends the bridge's loop at once; Tk's loop takes over."""
    bridge = TkBridge()
    state = {"tk": False}
    threading.Timer(0.05, lambda: bridge.post(lambda: state.update(tk=True))).start()
    t0 = time.monotonic()
    bridge.run(until=lambda: state["tk"])
    assert time.monotonic() - t0 < 0.9  # woken by the post, not by the 1 s wake-up


def test_attach_moves_pending_timers_and_posts_to_tk(root: tk.Tk) -> None:
    bridge = TkBridge()
    ran: list[str] = []
    bridge.after(100, lambda: ran.append("timer"))
    bridge.post(lambda: ran.append("posted"))
    bridge.attach(root)
    threading.Thread(target=lambda: bridge.post(lambda: ran.append("from a thread"))).start()
    deadline = time.monotonic() + 5
    while len(ran) < 3 and time.monotonic() < deadline:
        root.update()
        time.sleep(0.01)
    assert sorted(ran) == ["from a thread", "posted", "timer"]
    assert ran.index("posted") < ran.index("timer")
    bridge.after(10, lambda: ran.append("tk timer"))  # after attach: Tk's own after()
    assert root.tk.call("after", "info")
    while "tk timer" not in ran and time.monotonic() < deadline:
        root.update()
        time.sleep(0.01)
    assert ran[-1] == "tk timer"
    bridge.close()


def test_close_without_tk_stops_the_loop_and_drops_timers() -> None:
    bridge = TkBridge()
    ran: list[int] = []
    bridge.after(10, lambda: ran.append(1))
    bridge.close()
    bridge.run(until=lambda: False)  # returns at once: closed
    bridge.post(lambda: ran.append(2))
    assert ran == []


def test_close_cancels_the_tk_timers_it_set(root: tk.Tk) -> None:
    """An app's shutdown leaves no after() of its bridge behind to fire into
    the destroyed root's deleted commands ("invalid command name")."""
    bridge = TkBridge(root)
    ran: list[int] = []
    bridge.after(60_000, lambda: ran.append(1))
    bridge.after(10, lambda: ran.append(2))
    pending = set(bridge._tk_timers) | {bridge._after}
    assert len(pending) == 3 and pending <= set(root.tk.splitlist(root.tk.call("after", "info")))
    deadline = time.monotonic() + 5
    while 2 not in ran and time.monotonic() < deadline:
        root.update()
        time.sleep(0.01)
    assert ran == [2] and len(bridge._tk_timers) == 1  # a timer that ran is forgotten
    bridge.close()
    assert not pending & set(root.tk.splitlist(root.tk.call("after", "info")))
    bridge.after(10, lambda: ran.append(3))  # closed: nothing more is scheduled
    assert not bridge._tk_timers
