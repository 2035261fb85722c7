"""Crash safety: a thread's unexpected exception is logged with its traceback,
the icon shows the error and the app keeps running; damaged files are kept."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from traymail.accounts import Accounts
from traymail.app import App
from traymail.devserver import DevServer
from traymail.passwords import MemoryStore
from traymail.platform_support import LinuxSupport
from traymail.settings import (
    Account,
    Security,
    Settings,
    SettingsError,
    load_settings,
    resolve_paths,
)

from .uitools import pump

MakeServer = Callable[..., DevServer]
_KEEP: list[App] = []


def make(home: Path, srv: DevServer | None, settings: Settings | None = None) -> App:
    paths = resolve_paths(home=home)
    store = MemoryStore()
    if settings is None:
        assert srv is not None
        account = Account("A", "127.0.0.1", "user", security=Security.NONE, port=srv.port,
                          allow_insecure=True)
        store.set(account, "pass")
        settings = Settings((account,))
    app = App(paths, accounts=Accounts(paths, settings, passwords=store), use_tray=False,
              use_notifier=False, single_instance=False, platform=LinuxSupport(home / "xdg"))
    _KEEP.append(app)
    return app


def test_thread_crash_is_logged_shown_and_survived(x_display: str, make_devserver: MakeServer,
                                                   tmp_path: Path) -> None:
    srv = make_devserver()
    app = make(tmp_path / "home", srv)
    app.start()
    try:
        assert pump(app.root, lambda: app.results)

        def boom() -> None:
            raise ZeroDivisionError("a bug in some thread")

        t = threading.Thread(target=boom, name="traymail-buggy")
        t.start()
        t.join()
        assert pump(app.root, lambda: app.internal_error)
        title = app.icon_and_title()[1]
        assert "internal error in traymail-buggy" in title and "(see the log)" in title
        log = (tmp_path / "home" / "logs" / "traymail.log").read_text()
        assert "unexpected error in traymail-buggy" in log
        assert "Traceback" in log and "ZeroDivisionError: a bug in some thread" in log
        conns = srv.connections
        app.check_now()  # still running
        assert pump(app.root, lambda: srv.connections > conns and not app.checking)
        app.root.report_callback_exception(KeyError, KeyError("tk"), None)  # a Tk callback
        assert "unexpected error in Tk" in (tmp_path / "home" / "logs" / "traymail.log").read_text()
    finally:
        app.shutdown()


def test_damaged_settings_are_kept_and_explained(x_display: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    bad = '{"accounts": [ {"name": "x", "host": "h"'
    (home / "settings.json").write_text(bad)
    try:
        load_settings(home / "settings.json")
        raise AssertionError("should not parse")
    except SettingsError as exc:
        damaged = exc
    app = make(home, None, Settings())
    app.accounts.damaged_settings = damaged
    app.start()
    try:
        dlg = app.settings_dialog
        assert dlg is not None and "not valid JSON" in dlg.general_error.cget("text")
        assert (home / "settings.json").read_text() == bad  # untouched so far
        dlg.vars["host"].set("pop.example.com")
        dlg.vars["username"].set("me")
        assert dlg.save()
        assert pump(app.root, lambda: not dlg.alive)
        kept = list(home.glob("settings.json.damaged-*"))
        assert len(kept) == 1 and kept[0].read_text() == bad
        assert load_settings(home / "settings.json").accounts[0].host == "pop.example.com"
    finally:
        app.shutdown()


def test_corrupt_state_database_is_moved_aside(x_display: str, make_devserver: MakeServer,
                                               tmp_path: Path) -> None:
    srv = make_devserver()
    home = tmp_path / "home"
    (home / "state").mkdir(parents=True)
    (home / "state" / "state.sqlite3").write_bytes(b"garbage" * 1000)
    app = make(home, srv)
    app.start()
    try:
        assert app.accounts.store.recovered_from is not None
        assert app.accounts.store.recovered_from.read_bytes().startswith(b"garbage")
        log = (home / "logs" / "traymail.log").read_text()
        assert "state database was damaged" in log
        assert pump(app.root, lambda: app.results)  # and it works
    finally:
        app.shutdown()


def test_first_run_opens_settings_and_offers_the_demo(x_display: str, tmp_path: Path,
                                                      monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import subprocess as sp

    started: list[list[str]] = []
    monkeypatch.setattr(sp, "Popen", lambda argv, **kw: started.append(argv))
    app = make(tmp_path / "home", None, Settings())
    app.start()
    try:
        dlg = app.settings_dialog
        assert dlg is not None and dlg.alive and dlg.on_demo is not None
        buttons = [w for w in dlg.top.winfo_children()[0].winfo_children()[0].winfo_children()
                   if w.winfo_class() == "TButton" and w.cget("text") == "Try the demo"]
        assert len(buttons) == 1
        buttons[0].invoke()
        assert started and started[0][-1] == "--demo" and app.stopped.is_set()
    finally:
        app.shutdown()
