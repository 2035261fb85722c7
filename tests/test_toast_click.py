"""Issue 13: under dunst a left click on a toast opens the mailbox -- with
dunst's stock settings (left click = close_current) too, where the click
only closes the toast; and exactly once where it runs the default action."""

from __future__ import annotations

import time

import pytest

from .desktop import DUNSTRC, Desktop, start_notification_daemon, xdotool
from .test_app import wait_for_popup

STOCK = DUNSTRC.replace("mouse_left_click = do_action, close_current",
                        "mouse_left_click = close_current")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("dunstrc", [STOCK, DUNSTRC], ids=["stock-close", "do-action"])
def test_left_click_on_a_toast_opens_the_mailbox_once(
        x_display: str, monkeypatch: pytest.MonkeyPatch, dunstrc: str) -> None:
    from traymail.notify import Notifier

    assert STOCK != DUNSTRC
    desktop = Desktop()
    start_notification_daemon(desktop, x_display, dunstrc)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    clicks: list[float] = []
    n = Notifier(lambda: clicks.append(time.monotonic()))
    try:
        n.start()
        assert n.server == "dunst" and n.dismiss_is_click
        n.show("1 new message (2 KB)", "Alice: Lunch?").result(10)
        x, y = wait_for_popup(x_display)
        xdotool(x_display, "mousemove", str(x), str(y), "click", "1")
        end = time.monotonic() + 10
        while not clicks and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(1.0)  # a second (close after action) would come now
        assert len(clicks) == 1
    finally:
        n.stop()
        desktop.stop()
