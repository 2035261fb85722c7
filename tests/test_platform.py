"""Start with the system and the other platform calls: Linux for real,
Windows through a fake registry (no Windows here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from traymail.platform_support import (
    APP_ID,
    APPROVED_KEY,
    RUN_KEY,
    LinuxSupport,
    WindowsSupport,
)


class FakeWinApi:
    def __init__(self) -> None:
        self.registry: dict[tuple[str, str], object] = {}
        self.dpi_calls = 0
        self.app_ids: list[str] = []

    def reg_get(self, key: str, name: str) -> object | None:
        return self.registry.get((key, name))

    def reg_set_string(self, key: str, name: str, value: str) -> None:
        self.registry[(key, name)] = value

    def reg_delete(self, key: str, name: str) -> None:
        self.registry.pop((key, name), None)

    def set_dpi_awareness(self) -> bool:
        self.dpi_calls += 1
        return True

    def set_app_id(self, app_id: str) -> bool:
        self.app_ids.append(app_id)
        return True


def test_windows_run_key_and_startup_approved() -> None:
    api = FakeWinApi()
    win = WindowsSupport(api)
    assert not win.autostart_enabled()
    exe = r"C:\Program Files\Python311\Scripts\traymailw.exe"
    win.set_autostart(True, [exe, "--home", r"D:\mail box"])
    assert api.registry[(RUN_KEY, "traymail")] == f'"{exe}" --home "D:\\mail box"'
    assert win.autostart_enabled()
    # the user switched it off in Task Manager: StartupApproved says disabled
    api.registry[(APPROVED_KEY, "traymail")] = bytes([3]) + bytes(11)
    assert not win.autostart_enabled()
    win.set_autostart(True, [exe])  # turning it on again clears that
    assert win.autostart_enabled() and (APPROVED_KEY, "traymail") not in api.registry
    api.registry[(APPROVED_KEY, "traymail")] = bytes([2]) + bytes(11)
    assert win.autostart_enabled()
    win.set_autostart(False, [exe])
    assert not win.autostart_enabled() and (RUN_KEY, "traymail") not in api.registry


def test_windows_dpi_and_app_id() -> None:
    api = FakeWinApi()
    win = WindowsSupport(api)
    win.enable_dpi_awareness()
    win.register_app_id()
    assert api.dpi_calls == 1 and api.app_ids == [APP_ID]


def test_linux_desktop_file(tmp_path: Path) -> None:
    linux = LinuxSupport(tmp_path)
    assert not linux.autostart_enabled()
    linux.set_autostart(True, ["/usr/bin/traymail", "--home", "/home/me/mail box"])
    text = (tmp_path / "autostart" / "traymail.desktop").read_text()
    assert "Exec=/usr/bin/traymail --home '/home/me/mail box'" in text
    assert "[Desktop Entry]" in text and linux.autostart_enabled()
    (tmp_path / "autostart" / "traymail.desktop").write_text(text + "Hidden=true\n")
    assert not linux.autostart_enabled()  # hidden by the desktop's settings
    linux.set_autostart(False, [])
    assert not (tmp_path / "autostart" / "traymail.desktop").exists()


def test_single_instance_addresses(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    from traymail import instance
    from traymail.settings import resolve_paths

    a, b = resolve_paths(home=tmp_path / "a"), resolve_paths(home=tmp_path / "b")
    assert instance.address_for(a) != instance.address_for(b)  # one instance per home
    monkeypatch.setattr(sys, "platform", "win32")
    pipe = instance.address_for(a)
    assert pipe.startswith("\\\\.\\pipe\\traymail-") and len(pipe) < 256
    assert pipe != instance.address_for(b)
    key = instance._authkey(a)
    assert len(key) == 32 and instance._authkey(a) == key


@pytest.mark.posix_only("a Unix socket and POSIX file modes; Windows uses a named pipe and "
                        "the profile's ACL")
def test_single_instance_socket_and_key_mode(tmp_path: Path) -> None:
    import os
    import stat

    from traymail import instance
    from traymail.settings import resolve_paths

    a = resolve_paths(home=tmp_path / "a")
    assert instance.address_for(a).endswith(".sock")
    instance._authkey(a)
    mode = stat.S_IMODE(os.stat(a.state_dir / "instance.key").st_mode)
    assert mode == 0o600  # only this user can talk to the running app
