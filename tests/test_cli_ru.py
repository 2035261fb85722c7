"""The ``traymail`` command in Russian (issue 14, item 4): ``--help`` and
argparse's own texts, the check summary with Russian plural forms for 1, 2,
5 and 21 messages and Russian sizes, the headers' dates, the delete
confirmation (answered "да" on a real pseudo-terminal), the errors of
fetch; the ``"language"`` setting overrides the OS; ``--json`` is the same
byte for byte whatever the language. Real subprocesses of ``python -m
traymail``, a real Dovecot, a real keyring (conftest pins LANGUAGE=en for
everything else; these tests set it per subprocess)."""

from __future__ import annotations

import calendar
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from traymail.i18n import set_language

from .realservers import DovecotAccount
from .test_cli import traymail, write_settings
from .test_download_names import batch_message, final_name

ROOT = Path(__file__).resolve().parent.parent


def ru_plural(n: int, one: str, few: str, many: str) -> str:
    """The Russian plural rule, written out here (not the catalog's)."""
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def ru_size(octets: int) -> str:
    if octets < 1000:
        return f"{octets} " + ru_plural(octets, "байт", "байта", "байт")
    assert octets < 1_000_000
    return f"{octets / 1000:.1f}".replace(".", ",") + " КБ"


def wire_size(path: Path) -> int:
    return len(path.read_bytes().replace(b"\n", b"\r\n"))


def russian(env: dict[str, str]) -> dict[str, str]:
    return {**env, "LANGUAGE": "ru"}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "traymail", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60)


# -- --help and usage errors (no server) ------------------------------------------------

def test_help_in_russian() -> None:
    out = run(russian(dict(os.environ)), "--help")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith("использование: traymail ")
    for line in ("позиционные аргументы:", "параметры:", "проверить новую почту",
                 "показать эту справку и выйти", "показать версию программы и выйти",
                 "переносной режим: хранить всё в этой папке", "Файл настроек: "):
        assert line in text, line
    # nothing of the English help is left, except option and command names
    for english in ("usage:", "options:", "show this help", "check for new mail",
                    "Settings file"):
        assert english not in text, english
    sub = run(russian(dict(os.environ)), "check", "--help").stdout
    assert "использование: traymail check" in sub
    assert "--json" in sub and "вывод в JSON для программ (всегда на английском)" in sub


def test_usage_errors_in_russian() -> None:
    bad = run(russian(dict(os.environ)), "check", "--no-such-option")
    assert bad.returncode == 2
    assert "traymail: ошибка: нераспознанные аргументы: --no-such-option" in bad.stderr
    missing = run(russian(dict(os.environ)), "delete")
    assert missing.returncode == 2
    assert "traymail delete: ошибка: требуются аргументы: UID" in missing.stderr
    # and English stays English
    en = run(dict(os.environ), "delete")
    assert "traymail delete: error: the following arguments are required: UID" in en.stderr


def test_discover_in_russian() -> None:
    """The steps, the result line and the provider's notes; the settings values
    (ssl, password) and the JSON stay as they are."""
    out = run(russian(dict(os.environ)), "discover", "someone@gmail.com", "--offline")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "  встроенная таблица (gmail.com): Gmail"
    assert lines[1] == ("Gmail (builtin): pop.gmail.com, порт 995, ssl, password, "
                        "имя пользователя someone@gmail.com")
    assert lines[2].startswith("примечание: Gmail: включите POP")
    assert lines[3].startswith("примечание: Справка: https://support.google.com/")
    none = run(russian(dict(os.environ)), "discover", "someone@example.com", "--offline")
    assert none.returncode == 1
    assert none.stdout.splitlines() == ["  встроенная таблица (example.com): нет в списке",
                                        "для someone@example.com ничего не найдено; укажите "
                                        "сервер вручную"]


def test_language_setting_overrides_the_os(tmp_path: Path) -> None:
    """The "language" setting of the --home's settings.json decides, --help included."""
    ru_home, en_home = tmp_path / "ru", tmp_path / "en"
    for home, lang in ((ru_home, "ru"), (en_home, "en")):
        home.mkdir()
        (home / "settings.json").write_text(json.dumps(
            {"schema_version": 1, "accounts": [], "language": lang}))
    env = dict(os.environ)  # LANGUAGE=en (conftest)
    assert "использование:" in run(env, "--home", str(ru_home), "--help").stdout
    # also when --home comes after the command
    assert "параметры:" in run(env, "accounts", "--home", str(ru_home), "--help").stdout
    english = run(russian(env), "--home", str(en_home), "--help").stdout
    assert english.startswith("usage: traymail") and "check for new mail" in english
    # a command, not only --help: no account yet, said in the setting's language
    first = run(env, "--home", str(ru_home), "check")
    assert first.returncode == 2 and "учётн" in first.stderr, first.stderr


# -- the plural table of the console's texts (in-process, no server) --------------------

@pytest.fixture
def in_russian() -> Iterator[None]:
    set_language("ru")
    yield
    set_language("en")  # conftest: English for the other tests


@pytest.mark.usefixtures("in_russian")
def test_check_line_plural_table() -> None:
    from traymail.cli import _check_line

    def line(n: int, arrived: int) -> str:
        return _check_line("dove", {"new_count": n, "new_size": 500, "total_count": n,
                                    "total_size": 1400, "newly_arrived": ["u"] * arrived})

    assert line(1, 1) == "dove: 1 новое (500 байт), 1 письмо (1,4 КБ), 1 только что пришло"
    assert line(2, 2) == "dove: 2 новых (500 байт), 2 письма (1,4 КБ), 2 только что пришли"
    assert line(5, 5) == "dove: 5 новых (500 байт), 5 писем (1,4 КБ), 5 только что пришло"
    assert line(21, 21) == ("dove: 21 новое (500 байт), 21 письмо (1,4 КБ), "
                            "21 только что пришло")
    for n in (0, 11, 12, 14, 22, 25, 101, 111, 1000):
        words = ru_plural(n, "письмо", "письма", "писем")
        assert f", {n} {words} (1,4 КБ), " in line(n, 0), n


# -- the commands against Dovecot ---------------------------------------------------------

def add(account: DovecotAccount, first: int, count: int) -> None:
    for i in range(first, first + count):
        account.add(f"From: S{i} <s{i}@example.org>\nSubject: тема {i}\n"
                    f"Date: Mon, 2 Nov 2026 10:{i:02d}:00 +0000\n\nbody {i}\n".encode())


@pytest.mark.dovecot
def test_check_in_russian_plural_forms_and_sizes(dovecot_account: DovecotAccount,
                                                 secret_service: dict[str, str],
                                                 tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_settings(home, dovecot_account)
    env = russian(secret_service)
    no_password = traymail(env, home, "check", check=False)
    assert no_password.returncode == 1
    assert no_password.stdout.startswith("dove: ошибка: для ") and \
        "не сохранён пароль; задайте его в Настройках" in no_password.stdout
    traymail(env, home, "set-password", stdin=dovecot_account.password + "\n")

    added = 0
    # (count added, then: new = total, just arrived = the ones added)
    for batch, (new_word, total_word, arrived_text) in (
            (1, ("1 новое", "1 письмо", "1 только что пришло")),
            (1, ("2 новых", "2 письма", "1 только что пришло")),
            (3, ("5 новых", "5 писем", "3 только что пришли")),
            (16, ("21 новое", "21 письмо", "16 только что пришло"))):
        add(dovecot_account, added, batch)
        added += batch
        size = ru_size(sum(wire_size(p) for p in dovecot_account.files()))
        out = traymail(env, home, "check").stdout
        assert out == f"dove: {new_word} ({size}), {total_word} ({size}), {arrived_text}\n"
    assert "КБ" in out  # 21 messages are over 1000 bytes: the unit is Russian too

    # headers: Russian dates and sizes (the subjects are the server's, as they are)
    lines = traymail(env, home, "headers").stdout.splitlines()
    assert len(lines) == 21
    first = dovecot_account.files()[0]
    stamp = time.strftime("%d.%m.%Y %H:%M", time.localtime(calendar.timegm(
        (2026, 11, 2, 10, 0, 0, 0, 0, 0))))  # the Date: of message 0, local time
    assert stamp in lines[0] and "тема 0" in lines[0], lines[0]
    assert f" {ru_size(wire_size(first))}  " in lines[0], lines[0]

    # fetch: a UID the server does not have
    missing = traymail(env, home, "fetch", "no-such-uid", check=False)
    assert missing.returncode == 1
    assert "traymail: 1 письмо не найдено на сервере" in missing.stderr

    accounts = traymail(env, home, "accounts").stdout
    assert f"@127.0.0.1:{dovecot_account.server.ssl_port} ssl, каждые 5 мин" in accounts


def pty_delete(env: dict[str, str], home: Path, answer: str,
               *uids: str) -> subprocess.CompletedProcess[str]:
    """``traymail delete`` with stdin on a real pseudo-terminal (the question is
    asked only then), answering ``answer``."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "traymail", "--home", str(home),
                                 "delete", *uids], stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
        os.close(slave)
        slave = -1
        os.write(master, (answer + "\n").encode())
        out, err = proc.communicate(timeout=60)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.dovecot
def test_delete_confirmation_in_russian(dovecot_account: DovecotAccount,
                                        secret_service: dict[str, str],
                                        tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_settings(home, dovecot_account)
    add(dovecot_account, 0, 6)
    env = russian(secret_service)
    traymail(env, home, "set-password", stdin=dovecot_account.password + "\n")
    uids = [h["uid"] for h in json.loads(traymail(env, home, "headers", "--json").stdout)]

    kept = pty_delete(env, home, "нет", *uids[:5])
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout == "Удалить 5 писем с 127.0.0.1? [y/N] ничего не удалено\n"
    assert len(dovecot_account.files()) == 6

    gone = pty_delete(env, home, "да", *uids[:2])
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout == ("Удалить 2 письма с 127.0.0.1? [y/N] "
                           f"удалено {uids[0]}\nудалено {uids[1]}\n")
    assert len(dovecot_account.files()) == 4

    one = pty_delete(env, home, "y", uids[2])  # "y" is yes in every language
    assert one.stdout.startswith("Удалить 1 письмо с 127.0.0.1? [y/N] удалено ")
    assert len(dovecot_account.files()) == 3


@pytest.mark.dovecot
def test_failed_download_in_russian(dovecot_account: DovecotAccount,
                                    secret_service: dict[str, str], tmp_path: Path) -> None:
    """files.DownloadFailed's text, with the Russian genitive after "из"."""
    home = tmp_path / "home"
    write_settings(home, dovecot_account)
    for i in range(3):
        dovecot_account.add(batch_message(i))
    env = russian(secret_service)
    traymail(env, home, "set-password", stdin=dovecot_account.password + "\n")
    uids = [h["uid"] for h in json.loads(traymail(env, home, "headers", "--json").stdout)]
    (home / "downloads" / "dove" / final_name(uids[2], 2)).mkdir(parents=True)  # a name taken
    out = traymail(env, home, "fetch", "--new", check=False)
    assert out.returncode == 1
    assert ("traymail: ошибка: не удалось сохранить 1 из 3 писем; несохранённое остаётся "
            f"новым ({uids[2]}: ") in out.stderr, out.stderr


@pytest.mark.dovecot
def test_json_is_the_same_in_every_language(dovecot_account: DovecotAccount,
                                            secret_service: dict[str, str],
                                            tmp_path: Path) -> None:
    """--json is for programs: keys, values and error texts stay English."""
    add(dovecot_account, 0, 3)
    homes = {"en": tmp_path / "en", "ru": tmp_path / "ru", "setting": tmp_path / "setting"}
    envs = {"en": secret_service, "ru": russian(secret_service), "setting": secret_service}
    for name, home in homes.items():
        write_settings(home, dovecot_account)
        if name == "setting":  # the "language" setting rather than the OS
            data = json.loads((home / "settings.json").read_text())
            (home / "settings.json").write_text(json.dumps({**data, "language": "ru"}))

    def outputs(*args: str) -> dict[str, str]:
        got = {n: traymail(envs[n], homes[n], *args, check=False) for n in homes}
        return {n: p.stdout for n, p in got.items()}

    failed = outputs("check", "--json")  # no password yet: an error text inside the JSON
    assert failed["en"] == failed["ru"] == failed["setting"]
    assert "no password is stored for" in json.loads(failed["ru"])["accounts"][0]["error"]
    for name, home in homes.items():
        traymail(envs[name], home, "set-password", stdin=dovecot_account.password + "\n")
    for args in (("check", "--json"), ("headers", "--json"), ("rules", "test", "--json"),
                 ("discover", "someone@gmail.com", "--offline", "--json")):
        out = outputs(*args)
        assert out["en"] == out["ru"] == out["setting"], args
        json.loads(out["en"])
    # while the same commands without --json do speak Russian
    assert "письм" in traymail(envs["ru"], homes["ru"], "check").stdout
    assert "письм" in traymail(envs["setting"], homes["setting"], "check").stdout
