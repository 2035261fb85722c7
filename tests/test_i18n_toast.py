"""A new-mail toast in Russian, end to end (issue 14, item 4): a real check
of a POP3 mailbox (traymail.devserver) finds two new messages, the toast is
worded as the app words it (:func:`traymail.notify.toast_text`, the size
and the message summary the app gathers) and goes through the real
Notifier to the real dunst on a private D-Bus, which shows
"2 новых письма (…)"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from traymail.devserver import DevServer, MemoryMailbox
from traymail.i18n import format_size, set_language
from traymail.notify import Notifier, toast_text
from traymail.samples import sample_message, sample_messages

from .desktop import Desktop, dunst_history, start_notification_daemon, wait_for
from .engine import Engine


@pytest.fixture(autouse=True)
def back_to_english() -> Iterator[None]:
    yield
    set_language("en")


@pytest.mark.timeout(90)
def test_a_russian_toast_through_dunst(x_display: str, monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:
    box = MemoryMailbox(sample_messages(3))
    engine = Engine(tmp_path / "home")
    desktop = Desktop()
    start_notification_daemon(desktop, x_display)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    assert set_language("ru") == "ru"
    n = Notifier(lambda: None)
    try:
        n.start()
        with DevServer(box, {"user": "pass"}) as srv:
            mb = engine.mailbox(srv.port)
            first = mb.check()
            assert first.first_run and len(first.newly_arrived) == 3
            a, b = box.add(sample_message(40)), box.add(sample_message(41))
            result = mb.check()
            assert set(result.newly_arrived) == {a, b}
            # what App._result_in_worker gathers for the toast
            sizes = mb.store.sizes(mb.name)
            size = sum(sizes.get(u) or 0 for u in result.newly_arrived)
            headers = mb.headers()
            mb.close()
        toast = toast_text(mb.name, result, size, headers, several_accounts=False)
        n.show(toast.title, toast.message).result(10)
        wait_for(lambda: dunst_history_now(desktop), 10, "the toast in dunst's history")
    finally:
        n.stop()
        history = dunst_history(desktop)
        desktop.stop()
    expected = f"2 новых письма ({format_size(size)})"
    assert "," in format_size(size) and "КБ" in format_size(size)  # 1,4 КБ: the Russian style
    print("dunst showed:", history[0]["summary"], "|", history[0]["body"])
    assert history[0]["summary"] == expected
    lines = history[0]["body"].split("\n")
    assert len(lines) == 2 and all(": " in line for line in lines)
    assert [h[2] for h in n.history] == ["native"]


def dunst_history_now(desktop: Desktop) -> bool:
    import subprocess
    import time

    subprocess.run(["dunstctl", "close-all"], env=desktop.env, timeout=10)
    time.sleep(0.1)
    return bool(dunst_history(desktop))
