"""The ``traymail`` command line: the parser, and the entry points.

Parsing needs nothing but argparse, so ``traymail --help`` (and a usage
error) costs no more than the interpreter's start; :mod:`traymail.cli`,
with the engine behind it, is imported only to run a command.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__

__all__ = ["build_parser", "main", "gui_main"]


def _settings_file_shown() -> str:
    try:  # settings.py is light (no engine): --help still loads only the parser
        from .settings import resolve_paths

        return str(resolve_paths().settings_file)
    except Exception:  # --help must never fail
        return "settings.json in the user config folder"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS,
                        help="portable mode: keep everything under this folder")
    common.add_argument("--config", default=argparse.SUPPRESS, help="the settings file")
    common.add_argument("--account", default=argparse.SUPPRESS,
                        help="the account to use (default: the first)")
    p = argparse.ArgumentParser(
        prog="traymail", parents=[common],
        description="POP3 mail notifier and mini client. Plain `traymail` (no command) "
        "starts the tray app; on the first run it opens Settings to add an account. "
        "The commands below work without the tray app.",
        epilog=f"Settings file: {_settings_file_shown()} (or --home / --config). "
        "`traymail --demo` tries the app with sample mail, no account needed.")
    p.add_argument("--version", action="version", version=f"traymail {__version__}")
    p.add_argument("--demo", action="store_true",
                   help="run the app against a built-in POP3 server with a sample mailbox")
    p.add_argument("--show", action="store_true",
                   help="open the running traymail's window (or start it)")
    p.add_argument("--quit", action="store_true", help="ask the running traymail to quit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("shell", parents=[common], help="speak POP3 command by command")
    c = sub.add_parser("check", parents=[common], help="check for new mail")
    c.add_argument("--json", action="store_true")
    h = sub.add_parser("headers", parents=[common], help="list headers (no download)")
    h.add_argument("--new", action="store_true", help="only new messages")
    h.add_argument("--json", action="store_true")
    f = sub.add_parser("fetch", parents=[common], help="download messages to .eml files")
    f.add_argument("--new", action="store_true", help="every new message")
    f.add_argument("uids", nargs="*", metavar="UID")
    d = sub.add_parser("delete", parents=[common], help="delete messages on the server")
    d.add_argument("uids", nargs="+", metavar="UID")
    d.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sub.add_parser("accounts", parents=[common], help="list the configured accounts")
    sub.add_parser("set-password", parents=[common], help="store an account's password")
    si = sub.add_parser("sign-in", parents=[common],
                        help="sign an OAuth2 account in (Microsoft, Google, ...)")
    si.add_argument("--device", action="store_true",
                    help="show a code to enter on any device instead of the browser redirect")
    si.add_argument("--no-browser", action="store_true",
                    help="print the page to open instead of opening the browser")
    si.add_argument("--timeout", type=float, default=300.0, help=argparse.SUPPRESS)
    disc = sub.add_parser("discover", parents=[common],
                          help="find the POP3 settings for an e-mail address")
    disc.add_argument("address", metavar="ADDRESS")
    disc.add_argument("--json", action="store_true")
    disc.add_argument("--offline", action="store_true",
                      help="only the built-in provider table (no network)")
    # -- rules (traymail.rules_cli) --
    ru = sub.add_parser("rules", parents=[common], help="rules on the server's mail")
    rsub = ru.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    rt = rsub.add_parser("test", parents=[common],
                         help="show which rule matches which message, without acting")
    rt.add_argument("--json", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``traymail``."""
    args = build_parser().parse_args(argv)
    from .cli import run

    return run(args)


def gui_main() -> int:
    """Entry point of ``traymailw`` (no console window on Windows)."""
    return main(sys.argv[1:])
