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

    def user_sid(self) -> str | None:
        return "S-1-5-21-1-2-3-1001"

    def pipe_peer_sid(self, handle: int, peer_is_server: bool) -> str | None:
        return None


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


def test_single_instance_names(tmp_path: Path) -> None:
    from traymail import instance
    from traymail.settings import resolve_paths

    a, b = resolve_paths(home=tmp_path / "a"), resolve_paths(home=tmp_path / "b")
    key_a, key_b = instance._authkey(a), instance._authkey(b)
    assert len(key_a) == 32 and instance._authkey(a) == key_a and key_a != key_b
    # one instance per home; the names come from the secret key, not the path
    assert instance.socket_name(key_a) != instance.socket_name(key_b)
    assert instance.socket_name(key_a).endswith(".sock")
    assert str(a.state_dir) not in instance.socket_name(key_a)
    sid = FakeWinApi().user_sid()
    assert sid is not None
    pipe = instance.pipe_name(sid, key_a)
    assert pipe.startswith("\\\\.\\pipe\\traymail-S-1-5-21-1-2-3-1001-") and len(pipe) < 256
    assert instance.pipe_name(sid, key_b) != pipe
    assert instance.pipe_name("S-1-5-21-9-9-9-1002", key_a) != pipe  # another user
    for bad in ("", "..\\x", "S-1-5\\pipe", "S-1-x"):
        with pytest.raises(ValueError):
            instance.pipe_name(bad, key_a)


@pytest.mark.posix_only("POSIX file modes; on Windows the key lives in the user's profile "
                        "(its ACL)")
def test_single_instance_key_mode(tmp_path: Path) -> None:
    import os
    import stat

    from traymail import instance
    from traymail.settings import resolve_paths

    a = resolve_paths(home=tmp_path / "a")
    instance._authkey(a)
    mode = stat.S_IMODE(os.stat(a.state_dir / "instance.key").st_mode)
    assert mode == 0o600  # only this user can talk to the running app
