"""Toasts carry a sender's text literally (issue 12, item 6): the real dunst
on a private D-Bus announces body-markup, so the body is escaped; what dunst
renders (its Pango markup, parsed as dunst parses it) shows the characters
"<b>", never bold text, and no link."""

from __future__ import annotations

import subprocess
import time

import pytest

from .desktop import Desktop, dunst_history, start_notification_daemon, wait_for

HOSTILE = 'Eve: <b>URGENT</b> <a href="http://evil.example/">verify</a> <img src="x"/> & co'


def rendered(markup: str) -> tuple[str, int]:
    """(plain text, number of styling attributes) as Pango renders ``markup``."""
    import gi

    gi.require_version("Pango", "1.0")
    from gi.repository import Pango

    ok, attrs, text, _accel = Pango.parse_markup(markup, -1, "\0")
    assert ok
    return text, len(attrs.get_attributes())


@pytest.mark.timeout(60)
def test_markup_in_a_toast_body_arrives_as_literal_text(
        x_display: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from traymail.notify import Notifier

    desktop = Desktop()
    start_notification_daemon(desktop, x_display)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    n = Notifier(lambda: None)
    try:
        n.start()
        assert n.markup  # dunst announces body-markup (GetCapabilities)
        n.show("1 new message (2 KB)", HOSTILE).result(10)
        wait_for(lambda: dunst_history_now(desktop), 10, "the toast in dunst's history")
    finally:
        n.stop()
        history = dunst_history(desktop)
        desktop.stop()
    toast = history[0]
    assert toast["body"] == ('Eve: &lt;b&gt;URGENT&lt;/b&gt; &lt;a href="http://evil.example/"'
                             '&gt;verify&lt;/a&gt; &lt;img src="x"/&gt; &amp; co')
    text, styles = rendered(toast["message"])
    assert text == f"1 new message (2 KB)\n{HOSTILE}"  # the sender's markup, as characters
    assert styles == 1  # only dunst's own <b> around the summary


def dunst_history_now(desktop: Desktop) -> bool:
    subprocess.run(["dunstctl", "close-all"], env=desktop.env, timeout=10)
    time.sleep(0.1)
    return bool(dunst_history(desktop))
