"""A new user's first minutes with the command (issue 13): one first-run
message, --help naming the tray app, a locked keyring (the real
gnome-keyring, its collection locked) that says what to do, and "Try the
demo" from a --home first run still reachable by --quit (the real processes
under Xvfb with a tray host, the button pressed from the keyboard)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .desktop import Desktop, tray_desktop, wait_for, xdotool
from .realservers import DovecotAccount


def traymail(env: dict[str, str] | None, *args: str, stdin: str = "",
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "traymail", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=timeout)


def test_one_first_run_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    texts = set()
    for command in (["check"], ["headers"], ["fetch", "--new"], ["delete", "1", "--yes"],
                    ["set-password"], ["sign-in"]):
        out = traymail(None, "--home", str(home), *command)
        assert out.returncode == 2, (command, out.stderr)
        texts.add(out.stderr.strip())
    listed = traymail(None, "--home", str(home), "accounts")
    assert listed.returncode == 0
    texts.add(listed.stdout.strip())
    assert len(texts) == 1, texts  # the same words wherever a new user meets it
    text = texts.pop()
    assert str(home / "settings.json") in text
    assert f"Run `traymail --home {home}` with no command" in text
    assert "tray app" in text and "Settings" in text


def test_help_says_plain_traymail_starts_the_tray_app() -> None:
    out = traymail(None, "--help")
    assert out.returncode == 0
    flat = " ".join(out.stdout.split())
    assert "Plain `traymail` (no command) starts the tray app" in flat
    assert "Settings file:" in flat and "--demo" in flat


@pytest.fixture
def locked_keyring() -> Iterator[dict[str, str]]:
    """Its own gnome-keyring (the shared one stays unlocked), then locked."""
    desktop = Desktop()
    try:
        desktop.start_secret_service()
        env = {k: v for k, v in desktop.env.items() if k != "DISPLAY"}  # no one to prompt
        lock = ("import secretstorage; c = secretstorage.get_default_collection("
                "secretstorage.dbus_init()); c.lock(); assert c.is_locked()")
        subprocess.run([sys.executable, "-c", lock], env=env, check=True, timeout=30)
        yield env
    finally:
        desktop.stop()


@pytest.mark.dovecot
def test_a_locked_keyring_says_what_to_do(locked_keyring: dict[str, str],
                                          dovecot_account: DovecotAccount,
                                          tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.json").write_text(json.dumps({"accounts": [{
        "name": "dove", "host": "127.0.0.1", "username": dovecot_account.user, "security": "ssl",
        "port": dovecot_account.server.ssl_port,
        "cafile": str(dovecot_account.server.cert.cert)}]}))
    stored = traymail(locked_keyring, "--home", str(home), "set-password", stdin="secret\n")
    checked = traymail(locked_keyring, "--home", str(home), "check")
    for out in (stored, checked):
        text = out.stderr + out.stdout
        assert out.returncode == 1, text
        assert "the keyring is locked" in text and "GNOME Keyring" in text, text
        assert "TRAYMAIL_PASSWORD_IN_MEMORY=1" in text and "Traceback" not in text
    assert "secret" not in stored.stderr + stored.stdout


@pytest.fixture
def desktop(x_display: str) -> Iterator[Desktop]:
    d = tray_desktop(x_display, TRAYMAIL_DEMO_EVERY="600")
    yield d
    d.stop()


def settings_window(display: str) -> str | None:
    for wid in xdotool(display, "search", "--onlyvisible", "--name", "settings$").split():
        if xdotool(display, "getwindowname", wid).strip() == "traymail — settings":
            return wid
    return None


def test_the_demo_from_a_home_first_run_quits_with_quit(desktop: Desktop, x_display: str,
                                                        tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = desktop.env
    printed = tmp_path / "stdout.txt"  # a file: the demo inherits it and keeps it open
    with printed.open("w") as sink:
        first = subprocess.Popen([sys.executable, "-m", "traymail", "--home", str(home)],
                                 env=env, stdout=sink, stderr=subprocess.STDOUT)
    demo_started = False
    try:
        wait_for(lambda: settings_window(x_display), 30, "the first-run Settings window")
        window = settings_window(x_display)
        assert window is not None
        time.sleep(0.5)
        xdotool(x_display, "windowfocus", "--sync", window)
        # focus is on the e-mail address; one step back is "Try the demo"
        xdotool(x_display, "key", "--delay", "100", "shift+Tab", "space")
        first.wait(30)  # the first-run app makes way for the demo
        demo_started = True
        assert first.returncode == 0
        out = printed.read_text()
        assert "no account is set up yet" in out and str(home / "settings.json") in out

        def quit_demo() -> bool:
            done = traymail(env, "--home", str(home), "--quit", timeout=30)
            return done.returncode == 0 and "demo was asked to quit" in done.stdout

        wait_for(quit_demo, 30, "traymail --home HOME --quit to reach the demo")
        demo = Path(env["XDG_RUNTIME_DIR"]) / f"traymail-demo-{os.getuid()}"
        wait_for(lambda: not demo.exists(), 30, "the demo to quit and clean up")
        no_more = traymail(env, "--home", str(home), "--quit")
        assert no_more.returncode == 1 and "no running instance" in no_more.stderr
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
        if demo_started:  # never leave a demo behind, whatever failed above
            traymail(env, "--quit", timeout=30)
