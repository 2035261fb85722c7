"""What a console call loads: ``traymail --help`` and ``traymail check`` must
not import the GUI, the decoder, OAuth2/HTTP, DNS or the keyring package's
backend discovery (a behaviour test: which modules are loaded, not how fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .realservers import DovecotAccount
from .test_cli import fill, traymail

ROOT = Path(__file__).resolve().parent.parent

#: never needed by --help or a check (the GUI, the MIME parser, HTTP, DNS, OAuth2)
HEAVY = ("tkinter", "PIL", "pystray", "gi", "authlib", "requests", "urllib3", "dns",
         "email.policy", "email.parser", "email.message", "http.client", "urllib.request",
         "traymail.decode", "traymail.oauth", "traymail.oauth_flows", "traymail.app",
         "traymail.ui", "traymail.tray", "traymail.notify", "traymail.download",
         "traymail.discover", "concurrent.futures")

#: nor by a check: the encrypted Secret Service session (cryptography; its
#: ``plain`` transfer is enough, see traymail.secret_service), the rules and
#: the e-mail package when no rule is set, logging.handlers (and pickle),
#: shutil/tempfile (only to save settings), getpass
NOT_FOR_A_CHECK = ("secretstorage", "cryptography", "keyring", "traymail.rules", "email",
                   "logging.handlers", "pickle", "shutil", "tempfile", "getpass")

#: runs traymail's entry point in-process, then reports what got imported
PROBE = """
import json, sys
from traymail.console import main
try:
    status = main(sys.argv[1:])
except SystemExit as exc:
    status = exc.code
sys.stdout.flush()
print("\\nMODULES " + json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def loaded(env: dict[str, str] | None, *args: str) -> tuple[int, set[str], str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60)
    head, _, tail = proc.stdout.rpartition("\nMODULES ")
    assert tail, proc.stderr[-2000:]
    data = json.loads(tail)
    return data["status"], set(data["modules"]), head + proc.stderr


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules for h in HEAVY if m == h or m.startswith(h + "."))


def test_help_loads_only_the_parser() -> None:
    status, modules, out = loaded(None, "--help")
    assert status == 0 and "check for new mail" in out
    assert heavy_in(modules) == []
    # not even the engine: --help is the interpreter plus argparse
    for engine in ("traymail.cli", "traymail.mailbox", "traymail.store", "traymail.pop3",
                   "traymail.passwords", "sqlite3", "ssl", "keyring"):
        assert engine not in modules, engine


def test_usage_error_loads_only_the_parser() -> None:
    status, modules, out = loaded(None, "check", "--no-such-option")
    assert status == 2 and "unrecognized arguments" in out
    assert "traymail.mailbox" not in modules and heavy_in(modules) == []


@pytest.mark.dovecot
def test_check_loads_no_decoder_gui_oauth_or_keyring_discovery(
        dovecot_account: DovecotAccount, secret_service: dict[str, str], tmp_path: Path) -> None:
    """A STARTTLS check with the password in the Secret Service, as cron runs it."""
    home = tmp_path / "home"
    home.mkdir()
    acc = {"name": "dove", "host": "127.0.0.1", "username": dovecot_account.user,
           "security": "starttls", "port": dovecot_account.server.port,
           "cafile": str(dovecot_account.server.cert.cert)}
    (home / "settings.json").write_text(json.dumps({"schema_version": 1, "accounts": [acc]}))
    fill(dovecot_account, 3)
    traymail(secret_service, home, "set-password", stdin=dovecot_account.password + "\n")
    for expected_new in (3, 0):  # the first check, then one with nothing new
        status, modules, out = loaded(secret_service, "--home", str(home), "check", "--json")
        assert status == 0, out
        entry = json.loads(out[out.index("{"):])["accounts"][0]
        assert entry["state"] == "ok" and entry["total_count"] == 3
        assert len(entry["newly_arrived"]) == expected_new
        assert heavy_in(modules) == []
        # the password came from the Secret Service directly (D-Bus via
        # jeepney): neither the keyring package (which imports every backend
        # module) nor secretstorage with cryptography was needed
        assert "traymail.secret_service" in modules and "jeepney" in modules
        assert sorted(m for m in modules for n in NOT_FOR_A_CHECK
                      if m == n or m.startswith(n + ".")) == []
        assert "traymail.mailbox" in modules and "ssl" in modules  # it did run


@pytest.mark.dovecot
def test_check_without_a_stored_password_still_says_so(
        dovecot_account: DovecotAccount, secret_service: dict[str, str], tmp_path: Path) -> None:
    """No item in the Secret Service: the keyring package decides (the slow,
    complete way) and the user gets the same clear message."""
    home = tmp_path / "home"
    home.mkdir()
    acc = {"name": "dove", "host": "127.0.0.1", "username": "nobody-" + dovecot_account.user,
           "security": "starttls", "port": dovecot_account.server.port,
           "cafile": str(dovecot_account.server.cert.cert)}
    (home / "settings.json").write_text(json.dumps({"schema_version": 1, "accounts": [acc]}))
    status, modules, out = loaded(secret_service, "--home", str(home), "check", "--json")
    assert status == 1 and "no password is stored" in out
    assert "keyring" in modules  # keyring's own discovery loads what it loads; ours stays out
    assert [m for m in heavy_in(modules) if m.startswith("traymail.")] == []


@pytest.mark.parametrize(("argv", "command"), [
    (["check", "--json"], "check"),
    (["--home", "check", "headers"], "headers"),  # "check" is --home's value
    (["--home=/x", "fetch", "--new"], "fetch"),
    (["--acc", "shell", "check"], "check"),  # argparse takes --acc for --account
    (["check", "--help"], None), (["-h"], None), (["--vers"], None), (["chek"], None),
    (["--he", "check"], None),  # argparse takes --he for --help
    ([], None), (["--demo"], None), (["--", "check"], None),
])
def test_the_command_a_run_names(argv: list[str], command: str | None) -> None:
    from traymail.console import command_of

    assert command_of(argv) == command


@pytest.mark.parametrize("argv", [
    ["check", "--json"], ["--home", "h", "delete", "a", "b", "--yes"], ["--acc", "shell", "check"],
    ["fetch", "--new"], ["rules", "test", "--json"], ["sign-in", "--device"], ["accounts"],
    ["delete"], ["check", "--bogus"], ["rules"], ["discover"], ["--he", "check"],
])
def test_a_parser_with_one_command_parses_as_the_full_one(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Built for the command the run names (what a console call pays), the
    parser gives the same arguments -- or the same usage error -- as the full one."""
    from traymail.console import build_parser

    def outcome(parser_argv: list[str] | None) -> tuple[object, str]:
        try:
            result: object = vars(build_parser(parser_argv).parse_args(argv))
        except SystemExit as exc:
            result = exc.code
        return result, capsys.readouterr().err

    assert outcome(argv) == outcome(None)
