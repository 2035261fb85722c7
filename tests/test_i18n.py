"""Languages (issue 14, item 4): the real compiled catalogs through gettext,
the Russian plural forms, the language choice (setting, LANG/LANGUAGE,
the Windows UI language), sizes and dates in the locale's style, the toast
text and the shell in Russian. Platform-neutral: runs in the Windows lane
too (where the real GetUserDefaultUILanguage call is made)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from traymail import i18n
from traymail.decode import format_size as old_format_size
from traymail.devserver import DevServer, MemoryMailbox
from traymail.i18n import (
    choose_language,
    format_date,
    format_size,
    language_from_env,
    language_from_langid,
    ngettext,
    set_language,
)
from traymail.mailbox import CheckResult, Header
from traymail.notify import toast_text
from traymail.platform_support import windows_ui_language
from traymail.samples import sample_messages
from traymail.settings import SettingsError, parse_settings, settings_to_json

ROOT = Path(__file__).resolve().parent.parent
RU_PLURAL = ("nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
             "(n%100<10 || n%100>=20) ? 1 : 2);")


@pytest.fixture(autouse=True)
def back_to_english() -> Iterator[None]:
    yield
    set_language("en")


# -- the plural table ----------------------------------------------------------------

RU_NEW_MAIL = [
    (0, "0 новых писем"), (1, "1 новое письмо"), (2, "2 новых письма"), (3, "3 новых письма"),
    (4, "4 новых письма"), (5, "5 новых писем"), (11, "11 новых писем"),
    (12, "12 новых писем"), (14, "14 новых писем"), (21, "21 новое письмо"),
    (22, "22 новых письма"), (25, "25 новых писем"), (101, "101 новое письмо"),
    (111, "111 новых писем"), (112, "112 новых писем"), (1004, "1004 новых письма"),
]


@pytest.mark.parametrize(("n", "expected"), RU_NEW_MAIL)
def test_russian_plural_table(n: int, expected: str) -> None:
    assert set_language("ru") == "ru"
    text = ngettext("{n} new message ({size}){where}", "{n} new messages ({size}){where}", n)
    assert text.format(n=n, size=format_size(1400), where="") == f"{expected} (1,4 КБ)"


def test_the_catalogs_carry_the_plural_rules() -> None:
    ru = (ROOT / "traymail/locale/ru/LC_MESSAGES/traymail.po").read_text(encoding="utf-8")
    assert f'"Plural-Forms: {RU_PLURAL}\\n"' in ru
    set_language("ru")
    assert [ngettext("{n} octet", "{n} octets", n).format(n=n) for n in (1, 3, 7)] == \
        ["1 октет", "3 октета", "7 октетов"]
    set_language("en")
    assert [ngettext("{n} new message ({size}){where}", "{n} new messages ({size}){where}",
                     n).format(n=n, size="1 KB", where="") for n in (0, 1, 2)] == \
        ["0 new messages (1 KB)", "1 new message (1 KB)", "2 new messages (1 KB)"]


# -- choosing the language ------------------------------------------------------------

HAVE = ("en", "ru")


@pytest.mark.parametrize(("env", "expected"), [
    ({"LANG": "ru_RU.UTF-8"}, "ru"),
    ({"LANG": "ru"}, "ru"),
    ({"LC_MESSAGES": "ru_RU.UTF-8", "LANG": "en_US.UTF-8"}, "ru"),
    ({"LC_ALL": "ru_UA.KOI8-U", "LC_MESSAGES": "en_GB"}, "ru"),
    ({"LC_ALL": "C", "LANG": "ru_RU.UTF-8"}, "en"),            # C means English
    ({"LANGUAGE": "uk:ru", "LANG": "en_US.UTF-8"}, "ru"),       # the first with a catalog
    ({"LANGUAGE": "en:ru", "LANG": "ru_RU.UTF-8"}, "en"),
    ({"LANGUAGE": "", "LANG": "ru_RU@euro"}, "ru"),             # empty = not set
    ({"LANG": "de_DE.UTF-8"}, "en"),                           # no catalog: English
    ({}, None),
])
def test_language_from_the_environment(env: dict[str, str], expected: str | None) -> None:
    assert language_from_env(env, HAVE) == expected


def test_the_setting_wins_over_the_os() -> None:
    ru_env = {"LANG": "ru_RU.UTF-8"}
    assert choose_language("auto", env=ru_env, platform="linux", available=HAVE) == "ru"
    assert choose_language("en", env=ru_env, platform="linux", available=HAVE) == "en"
    assert choose_language("ru", env={"LANG": "C"}, platform="linux", available=HAVE) == "ru"
    assert choose_language("auto", env={}, platform="linux", available=HAVE) == "en"


@pytest.mark.parametrize(("langid", "expected"), [
    (0x0419, "ru"), (0x0819, "ru"), (0x0409, "en"), (0x0809, "en"), (0x0C09, "en"),
    (0x0422, "uk"), (0x0407, "de"), (0x0000, None), (0x0436, None),
])
def test_windows_langid_mapping(langid: int, expected: str | None) -> None:
    assert language_from_langid(langid) == expected


def test_windows_follows_the_ui_language() -> None:
    asked: list[bool] = []

    def ui(langid: int | None) -> object:
        def get() -> int | None:
            asked.append(True)
            return langid
        return get

    def pick(env: dict[str, str], langid: int | None, setting: str = "auto") -> str:
        return choose_language(setting, env=env, platform="win32",
                               ui_langid=ui(langid), available=HAVE)  # type: ignore[arg-type]

    # a POSIX shell's LANG does not speak for Windows; the UI language does
    assert pick({"LANG": "en_US.UTF-8"}, 0x0419) == "ru"
    assert pick({}, 0x0409) == "en"
    assert pick({}, 0x0422) == "en"            # Ukrainian UI, no catalog yet
    assert pick({}, None) == "en"              # the call failed
    assert pick({"LANGUAGE": "en"}, 0x0419) == "en"  # gettext's own variable still counts
    asked.clear()
    assert pick({}, 0x0409, setting="ru") == "ru"
    assert not asked                           # a chosen language never asks Windows


def test_the_real_windows_ui_language_call() -> None:
    """On Windows (the lane) the ctypes call answers with a LANGID; elsewhere None."""
    langid = windows_ui_language()
    if sys.platform == "win32":
        assert isinstance(langid, int) and 0 < langid <= 0xFFFF
        print(f"GetUserDefaultUILanguage: {langid:#06x} -> {language_from_langid(langid)}")
    else:
        assert langid is None


def run_python(code: str, **env: str) -> str:
    full = {k: v for k, v in os.environ.items()
            if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    full.update(env, PYTHONIOENCODING="utf-8")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          encoding="utf-8", env=full, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.posix_only(reason="the POSIX locale variables; Windows asks its UI language")
@pytest.mark.parametrize(("env", "expected"), [
    ({"LANG": "ru_RU.UTF-8"}, "ru (без темы)"),
    ({"LANGUAGE": "ru", "LANG": "en_US.UTF-8"}, "ru (без темы)"),
    ({"LANG": "C.UTF-8"}, "en (no subject)"),
    ({"LANG": "fr_FR.UTF-8"}, "en (no subject)"),
])
def test_a_fresh_process_follows_the_locale(env: dict[str, str], expected: str) -> None:
    code = ("from traymail import i18n\n"
            "assert i18n._translations is None  # nothing decided at import\n"
            "print(i18n.current_language(), i18n._('(no subject)'))")
    assert run_python(code, **env) == expected


def test_switching_at_runtime() -> None:
    assert set_language("ru") == "ru" and i18n.current_language() == "ru"
    assert i18n._("(no subject)") == "(без темы)"
    assert i18n.pgettext("decimal separator", ".") == ","
    assert set_language("en") == "en"
    assert i18n._("(no subject)") == "(no subject)"
    assert set_language("xx") == "en"  # unknown: English, never an error


# -- the setting ------------------------------------------------------------------------

def test_the_language_setting() -> None:
    assert parse_settings({}).language == "auto"
    assert parse_settings({"language": "ru"}).language == "ru"
    assert settings_to_json(parse_settings({"language": "ru"}))["language"] == "ru"
    for bad in ("de", "RU", "", 5, None):
        with pytest.raises(SettingsError) as err:
            parse_settings({"language": bad})
        assert err.value.field == "language"
        assert "auto, en, ru" in err.value.problem


def test_the_example_file_documents_the_language() -> None:
    import json

    data = json.loads((ROOT / "settings.json.example").read_text(encoding="utf-8"))
    assert parse_settings(data).language == "auto"
    assert "'ru'" in data["_language"] and "'auto'" in data["_language"]


# -- sizes and dates ----------------------------------------------------------------------

@pytest.mark.parametrize(("octets", "en", "ru"), [
    (0, "0 bytes", "0 байт"), (1, "1 byte", "1 байт"), (2, "2 bytes", "2 байта"),
    (5, "5 bytes", "5 байт"), (21, "21 bytes", "21 байт"), (999, "999 bytes", "999 байт"),
    (1000, "1.0 KB", "1,0 КБ"), (1400, "1.4 KB", "1,4 КБ"), (45_300, "45.3 KB", "45,3 КБ"),
    (1_234_567, "1.2 MB", "1,2 МБ"), (5_000_000_000, "5.0 GB", "5,0 ГБ"),
    (7_200_000_000_000, "7200.0 GB", "7200,0 ГБ"),
])
def test_sizes(octets: int, en: str, ru: str) -> None:
    set_language("en")
    assert format_size(octets) == en
    set_language("ru")
    assert format_size(octets) == ru


def test_format_size_is_a_drop_in_in_english() -> None:
    set_language("en")
    for n in [0, 2, 999, 1000, 1049, 1050, 999_949, 999_950, 10**6, 10**9, 10**12]:
        assert format_size(n) == old_format_size(n), n


def test_dates() -> None:
    now = datetime(2026, 12, 2, 15, 30).timestamp()
    today = datetime(2026, 12, 2, 9, 0).timestamp()
    yesterday = datetime(2026, 12, 1, 18, 5).timestamp()
    older = datetime(2026, 11, 28, 7, 45).timestamp()
    set_language("en")
    assert [format_date(t, now=now) for t in (today, yesterday, older)] == \
        ["Today 09:00", "Yesterday 18:05", "2026-11-28 07:45"]
    assert format_date(today, now=now, relative=False) == "2026-12-02 09:00"
    set_language("ru")
    assert [format_date(t, now=now) for t in (today, yesterday, older)] == \
        ["Сегодня 09:00", "Вчера 18:05", "28.11.2026 07:45"]
    assert i18n.format_day(datetime(2026, 1, 5).date()) == "05.01.2026"
    assert i18n.format_time(today) == "09:00"


# -- the toast text --------------------------------------------------------------------

def header(uid: str, sender: str, subject: str) -> Header:
    return Header(uid=uid, number=None, size=700, sender=sender, recipients="", subject=subject,
                  date="", timestamp=time.time(), message_id="", new=True, marked=False,
                  downloaded=None)


def test_toast_text_in_russian_and_english() -> None:
    uids = ("a", "b", "c", "d", "e")
    result = CheckResult(new_count=5, new_size=3500, total_count=9, total_size=9000,
                         newly_arrived=uids[:2])
    heads = [header("a", '"Анна Петрова" <anna@example.org>', "Отчёт за ноябрь"),
             header("b", "bob@example.org", "")]
    set_language("ru")
    toast = toast_text("Работа", result, 1400, heads, several_accounts=True)
    assert toast.title == "2 новых письма (1,4 КБ) — Работа"
    assert toast.message == "Анна Петрова: Отчёт за ноябрь\nbob@example.org: (без темы)"
    five = CheckResult(5, 3500, 9, 9000, uids)
    assert toast_text("x", five, 3500, heads, False).message.endswith("\nи ещё 3 письма")
    first = CheckResult(21, 3500, 21, 3500, tuple(f"u{i}" for i in range(21)), first_run=True)
    assert toast_text("x", first, 3500, [], False) == \
        type(toast)("В ящике 21 письмо (3,5 КБ)", "Щёлкните, чтобы открыть почтовый ящик.")
    set_language("en")
    toast = toast_text("Work", result, 1400, heads, several_accounts=True)
    assert toast.title == "2 new messages (1.4 KB) — Work"
    assert toast.message == "Анна Петрова: Отчёт за ноябрь\nbob@example.org: (no subject)"
    assert toast_text("x", five, 3500, heads, False).message.endswith("\nand 3 more")
    assert toast_text("x", first, 3500, [], False).title == "21 messages waiting (3.5 KB)"


# -- the shell in Russian, through a pipe ---------------------------------------------------

def run_shell(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "traymail", "shell"], input=script,
                          capture_output=True, text=True, encoding="utf-8", env=full,
                          timeout=60)


def test_the_shell_speaks_russian_through_a_pipe(tmp_path: Path) -> None:
    box = MemoryMailbox(sample_messages(2))
    out = tmp_path / "m1.eml"
    with DevServer(box, {"me": "pw-5511"}) as srv:
        proc = run_shell(f"stat\nconnect 127.0.0.1 {srv.port}\nuser me\npass\npw-5511\n"
                         f"stat\nretr 1 {out}\ntop x\nbogus\nhelp dele\nlog on\nnoop\n"
                         "close\n", LANGUAGE="ru")
    text = proc.stdout
    assert proc.returncode == 1, text + proc.stderr  # "stat" before connect, top x, bogus
    assert "Traceback" not in text + proc.stderr
    size = len(box.snapshot()[0].data)
    lines = text.splitlines()
    assert "ошибка: нет соединения; используйте: connect HOST [PORT] [--ssl|--starttls]" in lines
    total = sum(len(m.data) for m in box.snapshot())
    assert f"2 письма, {total} {octets_ru(total)}" in lines
    assert f"{size} {octets_ru(size)} {'записан' if octets_ru(size) == 'октет' else 'записано'}" \
        f" в {out}" in lines
    assert "ошибка: ожидался номер письма, получено 'x'" in lines
    assert "ошибка: неизвестная команда 'bogus'; введите 'help'" in lines
    assert "dele N -- пометить письмо N для удаления (выполняется при quit)" in lines
    assert "протокол включён" in lines
    assert "соединение закрыто; сервер ничего не удалил" in lines
    assert "+OK" in text  # protocol text stays as the server sent it
    assert "pw-5511" not in text + proc.stderr
    assert out.read_bytes() == box.snapshot()[0].data


def octets_ru(n: int) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return "октет"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "октета"
    return "октетов"


def test_the_shell_help_in_russian_and_english() -> None:
    ru = run_shell("help\nhelp stat\nhelp nothing\n", LANGUAGE="ru").stdout
    assert "Команды со справкой (введите help <команда>):" in ru
    assert "stat -- число писем и их общий размер" in ru
    assert "*** Нет справки по nothing" in ru
    en = run_shell("help\nhelp stat\n", LANGUAGE="en").stdout
    assert "Documented commands (type help <topic>):" in en
    for command in ("apop", "auth", "capa", "close", "connect", "dele", "list", "log", "noop",
                    "pass", "quit", "retr", "rset", "stat", "stls", "top", "uidl", "user"):
        assert command in en.split("Undocumented")[0], command
    assert "stat -- number of messages and total size" in en


# -- the engine's account errors ---------------------------------------------------------

def test_a_wrong_password_is_reported_in_russian(tmp_path: Path) -> None:
    from traymail.session import AccountState, MailboxError

    from .engine import Engine

    set_language("ru")
    engine = Engine(tmp_path / "home")
    with DevServer(MemoryMailbox(sample_messages(1)), {"user": "right"}) as srv:
        mb = engine.mailbox(srv.port, password="wrong")
        with pytest.raises(MailboxError) as err:
            mb.check()
        assert err.value.state is AccountState.AUTH_FAILED
        text = str(err.value)
        assert text.startswith("не удалось войти на 127.0.0.1 (")
        assert text.endswith("Исправьте пароль или настройки; traymail больше не будет "
                             "пробовать этот пароль.")
        assert mb.status.message == text  # what the tray tooltip and the window show
        with pytest.raises(MailboxError) as again:  # the same password is not tried again
            mb.check()
        assert str(again.value) == text
        mb.close()


def test_the_connection_test_result_in_russian() -> None:
    from traymail.session import probe
    from traymail.settings import Account, Security

    box = MemoryMailbox(sample_messages(2))
    with DevServer(box, {"user": "pass"}) as srv:
        account = Account(name="t", host="127.0.0.1", username="user", port=srv.port,
                          security=Security.NONE, allow_insecure=True)
        set_language("ru")
        ru = probe(account, "pass", timeout=5)
        size_ru = format_size(sum(len(m.data) for m in box.snapshot()))
        set_language("en")
        en = probe(account, "pass", timeout=5)
        size_en = format_size(sum(len(m.data) for m in box.snapshot()))
    assert "," in size_ru and "." in size_en  # 1,4 КБ / 1.4 KB
    assert ru.startswith(f"Успешно: 2 письма ({size_ru}), БЕЗ шифрования")
    assert en.startswith(f"OK: 2 messages ({size_en}), NO encryption")
