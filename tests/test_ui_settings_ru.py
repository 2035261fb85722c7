"""The Settings dialog and the settings errors in Russian (issue 14, item 4):
the Language choice is saved and applied at once, a reopened dialog speaks
Russian, an error next to a field is Russian; the app applies the setting at
start (the real process under Xvfb). Real Tk on Xvfb, real clicks."""

from __future__ import annotations

import json
import subprocess
import sys
import tkinter as tk
from collections.abc import Iterator
from pathlib import Path

import pytest

from traymail import i18n
from traymail.accounts import Accounts
from traymail.i18n import apply_settings_language, current_language, set_language
from traymail.passwords import MemoryStore
from traymail.settings import (
    Account,
    Security,
    Settings,
    SettingsError,
    load_settings,
    parse_settings,
    resolve_paths,
)
from traymail.ui.settings_dialog import SettingsDialog
from traymail.ui.worker import TkBridge

from .desktop import Desktop, tray_desktop, wait_for, xdotool
from .uitools import center, pump


def click(display: str, widget: tk.Misc) -> None:
    x, y = center(widget)
    xdotool(display, "mousemove", str(x), str(y), "click", "1")


@pytest.fixture(autouse=True)
def english_again() -> Iterator[None]:
    set_language("en")
    yield
    set_language("en")  # the next test module expects English (conftest)


def open_dialog(root_: tk.Tk, accounts: Accounts, saved: list[Settings]) -> SettingsDialog:
    dlg = SettingsDialog(root_, TkBridge(root_), accounts,
                         on_saved=saved.append)
    dlg.top.geometry("+10+10")
    pump(dlg.top, timeout=0.3)
    return dlg


def texts(widget: object) -> list[str]:
    """Every label/button text in a window (depth first)."""
    found = []
    for child in widget.winfo_children():  # type: ignore[attr-defined]
        try:
            found.append(str(child.cget("text")))
        except Exception:
            pass
        found.extend(texts(child))
    return found


@pytest.mark.posix_only("drives X input with xdotool")
def test_choosing_russian_saves_it_applies_it_and_a_reopened_dialog_speaks_it(
        root: tk.Tk, x_display: str, tmp_path: Path) -> None:
    account = Account("Home", "127.0.0.1", "user", security=Security.SSL, port=995)
    store = MemoryStore()
    store.set(account, "pass")
    accounts = Accounts(resolve_paths(home=tmp_path), Settings((account,)), passwords=store)
    saved: list[Settings] = []
    dlg = open_dialog(root, accounts, saved)
    assert dlg.top.title() == "traymail — settings"
    assert dlg.language.get() == "Automatic"
    assert list(dlg.language_box.cget("values")) == ["Automatic", "English", "Русский"]
    assert "open windows keep their language until reopened" in dlg.language_hint.cget("text")

    dlg.language_box.set("Русский")  # what a pick in the list does
    dlg.language_box.event_generate("<<ComboboxSelected>>")
    assert dlg.dirty and dlg.language_code() == "ru"
    click(x_display, dlg.save_button)
    assert pump(root, lambda: bool(saved), timeout=10)

    assert saved[0].language == "ru"
    on_disk = json.loads(accounts.paths.settings_file.read_text(encoding="utf-8"))
    assert on_disk["language"] == "ru"
    assert load_settings(accounts.paths.settings_file).language == "ru"
    assert current_language() == "ru"  # applied at once, before the dialog is reopened

    again = open_dialog(root, accounts, saved)
    assert again.top.title() == "traymail — настройки"
    shown = texts(again.top)
    for label in ("Учётные записи", "Язык", "Сервер (имя или IP)", "Порт", "Пароль",
                  "Сохранить", "Отмена", "Проверить соединение", "Показывать уведомления"):
        assert label in shown, (label, shown)
    assert "Save" not in shown and "Port" not in shown
    assert again.language.get() == "Русский"
    assert again.auth.get() == "Пароль (USER/PASS)"
    assert again.errors["password"].cget("text") != ""  # the keyring hint, in Russian
    assert pump(root, lambda: again.errors["password"].cget("text")
                == "Сохранён в хранилище паролей; оставьте поле пустым, чтобы не менять его.")

    # an error next to its field, in Russian
    again.vars["port"].set("0")
    click(x_display, again.save_button)
    pump(root, timeout=0.3)
    assert again.errors["port"].cget("text") == "должно быть целым числом от 1 до 65535"
    assert again.alive and len(saved) == 1  # nothing saved

    # and back to English: the choice "English" is saved as "en"
    again.vars["port"].set("995")
    again.language_box.set("English")
    assert again.language_code() == "en"
    click(x_display, again.save_button)
    assert pump(root, lambda: len(saved) == 2, timeout=10)
    assert saved[1].language == "en" and current_language() == "en"


def test_a_settings_error_in_russian(tmp_path: Path) -> None:
    set_language("ru")
    bad = {"accounts": [{"name": "A", "host": "h", "username": "u", "port": 70000}]}
    with pytest.raises(SettingsError) as err:
        parse_settings(bad)
    assert err.value.field == "accounts[0].port"  # the settings.json key stays as it is
    assert err.value.problem == "должно быть целым числом от 1 до 65535"
    assert str(err.value) == "accounts[0].port: должно быть целым числом от 1 до 65535"
    broken = tmp_path / "settings.json"
    broken.write_text('{"accounts": [', encoding="utf-8")
    with pytest.raises(SettingsError) as err:
        load_settings(broken)
    assert "не является правильным JSON (строка 1" in err.value.problem
    assert "файл оставлен как есть" in err.value.problem
    with pytest.raises(SettingsError) as err:
        parse_settings({"rules": [{"name": "r", "conditions": [
            {"field": "subject", "op": "regex", "value": "(unclosed"}], "actions": ["mark"]}]})
    assert err.value.problem.startswith("не является допустимым регулярным выражением: ")
    set_language("en")
    with pytest.raises(SettingsError) as err:
        parse_settings(bad)
    assert err.value.problem == "must be a whole number from 1 to 65535"


def test_apply_settings_language(monkeypatch: pytest.MonkeyPatch) -> None:
    assert apply_settings_language(Settings(language="ru")) == "ru"
    assert i18n._("Save") == "Сохранить"
    monkeypatch.setenv("LANGUAGE", "ru_RU.UTF-8")
    assert apply_settings_language(Settings(language="en")) == "en"  # the setting wins
    assert apply_settings_language(Settings()) == "ru"  # auto: the OS's
    monkeypatch.setenv("LANGUAGE", "en")
    assert apply_settings_language(Settings(language="auto")) == "en"
    assert i18n._("Save") == "Save"


@pytest.fixture
def desktop(x_display: str) -> Iterator[Desktop]:
    d = tray_desktop(x_display, LANGUAGE="en")
    yield d
    d.stop()


@pytest.mark.posix_only("a Linux desktop session (D-Bus, dunst)")
def test_the_app_starts_in_the_language_of_the_setting(desktop: Desktop, x_display: str,
                                                       tmp_path: Path) -> None:
    """LANGUAGE=en in the environment, "language": "ru" in settings.json: the
    first-run text and the Settings window are Russian."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "settings.json").write_text(json.dumps({"language": "ru", "accounts": []}))
    printed = tmp_path / "stdout.txt"
    with printed.open("w") as sink:
        app = subprocess.Popen([sys.executable, "-m", "traymail", "--home", str(home)],
                               env=desktop.env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        def russian_window() -> bool:
            ids = xdotool(x_display, "search", "--onlyvisible", "--name", "^traymail").split()
            return any(xdotool(x_display, "getwindowname", w).strip() == "traymail — настройки"
                       for w in ids)

        wait_for(russian_window, 30, "the Settings window in Russian")
        out = printed.read_text(encoding="utf-8")
        assert "traymail: ещё не настроено ни одной учётной записи" in out, out
        assert str(home / "settings.json") in out
    finally:
        quit_ = subprocess.run([sys.executable, "-m", "traymail", "--home", str(home), "--quit"],
                               env=desktop.env, capture_output=True, text=True, timeout=60)
        try:
            app.wait(30)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait(10)
    assert app.returncode == 0, (quit_.stdout, quit_.stderr, printed.read_text())
