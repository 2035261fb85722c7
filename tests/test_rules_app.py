"""Rules and sound in the running app: the real App, a private D-Bus session
with dunst (the toasts really shown), the dev POP3 server, and -- for sound --
a player command first on PATH that records how it was called."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from traymail.accounts import Accounts
from traymail.app import App
from traymail.devserver import DevServer, MemoryMailbox
from traymail.passwords import MemoryStore
from traymail.platform_support import LinuxSupport
from traymail.rules import parse_rules
from traymail.samples import sample_messages
from traymail.settings import Account, Security, Settings, resolve_paths
from traymail.sound import default_sound

from .desktop import Desktop, dunst_history, wait_for
from .test_app import _APPS, app_pump, session_env, tray_desktop  # noqa: F401

MakeServer = Callable[..., DevServer]

NEWSLETTER = {"name": "Newsletters", "match": "any", "actions": ["ignore"],
              "conditions": [{"field": "header", "header": "List-Id", "op": "contains",
                              "value": "news"}]}
BOSS = {"name": "Boss", "actions": ["important"],
        "conditions": [{"field": "from", "op": "equals", "value": "boss@example.org"}]}


def mail(sender: str, subject: str, extra: str = "") -> bytes:
    return (f"From: {sender}\r\nTo: me@example.org\r\nSubject: {subject}\r\n{extra}"
            f"Message-ID: <{abs(hash(subject))}@x>\r\n\r\nbody\r\n").encode()


def rules_app(home: Path, srv: DevServer, *rules: dict[str, object], sound: str | None = None,
              quiet_hours: str | None = None) -> App:
    account = Account("Home", "127.0.0.1", "user", security=Security.NONE, port=srv.port,
                      allow_insecure=True, sound=sound)
    store = MemoryStore()
    store.set(account, "pass")
    paths = resolve_paths(home=home)
    settings = Settings((account,), rules=parse_rules({"rules": list(rules)}, ["Home"]),
                        quiet_hours=quiet_hours)
    app = App(paths, accounts=Accounts(paths, settings, passwords=store),
              platform=LinuxSupport(home / "xdg-config"), use_tray=False,
              single_instance=False)
    _APPS.append(app)
    return app


def badge(app: App) -> tuple[int, int, int]:
    """The colour at the badge's centre of the current icon (64 px, top right)."""
    image = app.icon_and_title()[0].convert("RGB")
    return image.getpixel((64 - 7, 7))  # type: ignore[no-any-return]


def shown_since(desktop: Desktop, before: int) -> list[dict[str, str]]:
    """What dunst showed since (its history holds closed notifications)."""
    subprocess.run(["dunstctl", "close-all"], env=desktop.env, timeout=10)
    items = dunst_history(desktop)
    return items[: len(items) - before]


def test_ignore_rule_keeps_a_newsletter_out_of_toast_and_count(
        session_env: Desktop, make_devserver: MakeServer, tmp_path: Path) -> None:  # noqa: F811
    box = MemoryMailbox(sample_messages(2))
    app = rules_app(tmp_path / "home", make_devserver(box), NEWSLETTER)
    before = len(dunst_history(session_env))
    app.start()
    try:
        assert app_pump(app, lambda: len(app.toasts) == 1)  # the first-run summary
        box.add(mail("Weekly <weekly@news.example>", "Newsletter 42",
                     "List-Id: <weekly.news.example>\r\n"))
        box.add(mail("Ann <ann@example.org>", "Lunch today?"))
        app.check_now()
        assert app_pump(app, lambda: len(app.toasts) == 2, timeout=20)
        toast = app.toasts[1]
        assert toast.title.startswith("1 new message (") and "Lunch today?" in toast.message
        assert "Newsletter" not in toast.message
        assert app.results["Home"].new_count == 3 and app.results["Home"].ignored == 1
        assert "— 3 new" in app.icon_and_title()[1]
        wait_for(lambda: any(n["summary"] == toast.title
                             for n in shown_since(session_env, before)), 10, "the toast")
        assert not any("Newsletter" in n["body"] for n in shown_since(session_env, before))
        # the rule log reached the transcript the log window shows
        mb = app.accounts.mailbox("Home")
        assert any(e.text.startswith("rule log: 'Newsletters' matched") for e in mb.transcript)
    finally:
        app.shutdown()


def test_important_rule_forces_a_toast_during_pause(
        session_env: Desktop, make_devserver: MakeServer, tmp_path: Path) -> None:  # noqa: F811
    box = MemoryMailbox(sample_messages(1))
    app = rules_app(tmp_path / "home", make_devserver(box), BOSS)
    app.start()
    try:
        assert app_pump(app, lambda: len(app.toasts) == 1)
        app.pause(3600)
        box.add(mail("Someone <someone@example.org>", "Just chatting"))
        app.check_now()
        assert app_pump(app, lambda: app.results["Home"].new_count == 2, timeout=20)
        app_pump(app, lambda: False, timeout=1)
        assert len(app.toasts) == 1  # paused: the ordinary mail makes no toast
        before = len(dunst_history(session_env))
        box.add(mail("The Boss <boss@example.org>", "Call me now"))
        box.add(mail("Someone <someone@example.org>", "More chatting"))
        app.check_now()
        assert app_pump(app, lambda: len(app.toasts) == 2, timeout=20)
        toast = app.toasts[1]
        assert toast.title.startswith("1 new message") and "Call me now" in toast.message
        assert "chatting" not in toast.message and app.paused()
        wait_for(lambda: any(n["summary"] == toast.title and "Call me now" in n["body"]
                             for n in shown_since(session_env, before)), 10,
                 "the important toast on screen")
        # the badge turns orange while the important mail is new, red again after
        assert app_pump(app, lambda: app.important.get("Home"))
        app.resume()
        assert badge(app) == (245, 166, 35)
        app.mark_all_seen()
        assert not any(app.important.values())
        box.add(mail("Someone <someone@example.org>", "Ordinary again"))
        app.check_now()
        assert app_pump(app, lambda: app.results["Home"].new_count == 1, timeout=20)
        assert badge(app) == (214, 40, 40)  # ordinary new mail: the usual red
    finally:
        app.shutdown()


@pytest.fixture
def fake_player(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``paplay`` first on PATH: records its argv, one call per line."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "played.txt"
    script = bindir / "paplay"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$0 $*" >> "{record}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return record


def played(record: Path) -> list[str]:
    return record.read_text().splitlines() if record.exists() else []


def test_sound_plays_through_the_player_and_not_when_paused(
        fake_player: Path, make_devserver: MakeServer, tmp_path: Path) -> None:
    box = MemoryMailbox(sample_messages(1))
    app = rules_app(tmp_path / "home", make_devserver(box), sound="default")
    app.notifier = None  # toasts are not the point here
    app.start()
    try:
        assert app_pump(app, lambda: "Home" in app.results)
        assert played(fake_player) == []  # the first-run summary is silent
        box.add(mail("Ann <ann@example.org>", "ding"))
        app.check_now()
        assert app_pump(app, lambda: len(played(fake_player)) == 1, timeout=20)
        assert played(fake_player) == [f"{tmp_path / 'bin' / 'paplay'} {default_sound()}"]
        assert default_sound().read_bytes()[:4] == b"RIFF"
        app.sound.wait()
        app.pause(3600)
        box.add(mail("Ann <ann@example.org>", "silent"))
        app.check_now()
        assert app_pump(app, lambda: app.results["Home"].new_count == 3, timeout=20)
        app_pump(app, lambda: False, timeout=1)
        assert len(played(fake_player)) == 1  # paused: no sound
    finally:
        app.shutdown()


def test_rule_sound_file_and_quiet_hours(fake_player: Path, make_devserver: MakeServer,
                                         tmp_path: Path) -> None:
    wav = tmp_path / "boss.wav"
    wav.write_bytes(default_sound().read_bytes())
    loud = dict(BOSS, actions=["sound"], sound=str(wav))
    now = time.localtime()
    start = f"{now.tm_hour:02d}:00"
    end = f"{(now.tm_hour + 1) % 24:02d}:00"
    for quiet, expect in ((None, [f"{tmp_path / 'bin' / 'paplay'} {wav}"]),
                          (f"{start}-{end}", [])):
        box = MemoryMailbox(sample_messages(1))
        home = tmp_path / f"home-{bool(quiet)}"
        app = rules_app(home, make_devserver(box), loud, quiet_hours=quiet)
        app.notifier = None
        fake_player.unlink(missing_ok=True)
        app.start()
        try:
            assert app_pump(app, lambda: "Home" in app.results)  # noqa: B023
            box.add(mail("The Boss <boss@example.org>", "loud"))
            box.add(mail("Ann <ann@example.org>", "not a rule"))
            app.check_now()
            assert app_pump(app, lambda: app.results["Home"].new_count == 3,  # noqa: B023
                            timeout=20)
            if expect:
                assert app_pump(app, lambda: played(fake_player) != [], timeout=10)
                app.sound.wait()
            else:
                app_pump(app, lambda: False, timeout=1.5)
            assert played(fake_player) == expect
        finally:
            app.shutdown()


def test_no_player_is_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from traymail.sound import Player

    player = Player(which=lambda name: None)
    assert not player.play("default") and not player.play("default")
    assert caplog.text.count("no sound player") == 1
    assert not Player().play(str(tmp_path / "missing.wav"))
    assert "does not exist" in caplog.text
