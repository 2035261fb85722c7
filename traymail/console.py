"""The ``traymail`` command line: the parser, and the entry points.

Parsing needs nothing but argparse (and :mod:`traymail.i18n`, gettext), so
``traymail --help`` (and a usage error) costs no more than the interpreter's
start; :mod:`traymail.cli`, with the engine behind it, is imported only to
run a command.

The language of a run (``--help`` included) is decided before parsing:
the ``"language"`` setting of the settings file (``--home``/``--config`` as
given), else the OS's (:mod:`traymail.i18n`). argparse's own texts
("usage:", "options", its errors) come from traymail's catalog too.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .i18n import AUTO, N_, _, set_language

__all__ = ["build_parser", "main", "gui_main", "apply_language"]

#: argparse's own texts a user can see (its msgids, marked here so that
#: traymail's catalog translates them; see :func:`_localize_argparse`)
_ARGPARSE_TEXTS = (
    N_("usage: "), N_("positional arguments"), N_("options"),
    N_("show this help message and exit"), N_("show program's version number and exit"),
    N_("%(prog)s: error: %(message)s\n"), N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"), N_("argument %(argument_name)s: %(message)s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"), N_("expected one argument"),
    N_("invalid %(type)s value: %(value)r"), N_("expected at least one argument"),
    N_("expected at most one argument"), N_("ambiguous option: %(option)s could match "
                                            "%(matches)s"),
    N_("one of the arguments %s is required"), N_("not allowed with argument %s"),
    N_("ignored explicit argument %r"),
)
def _localize_argparse() -> None:
    """argparse looks its texts up with ``gettext.gettext`` (the ``messages``
    domain, which no catalog fills): point its module's ``_`` at
    traymail's catalog, where the texts above are translated. A text the
    catalog lacks stays argparse's English (its counted texts, ``nargs=N``
    only, are not used here)."""
    if callable(getattr(argparse, "_", None)):
        argparse._ = _  # type: ignore[attr-defined]


def _settings_file_shown() -> str:
    try:  # traymail.locations, not the settings code: --help loads only the parser
        from .locations import settings_file

        return str(settings_file())
    except Exception:  # --help must never fail
        return _("settings.json in the user config folder")


def _language_setting(argv: list[str]) -> str:
    """The settings file's ``"language"`` (``auto`` when there is none, the
    file is missing or unreadable: :func:`traymail.settings.load_settings`
    reports a bad file when a command loads it, --help must not fail)."""
    try:
        import json

        from .locations import settings_file

        pre = argparse.ArgumentParser(add_help=False)
        pre.add_argument("--home")
        pre.add_argument("--config")
        known, _rest = pre.parse_known_args(argv)
        path = settings_file(known.home, known.config)
        with open(path, encoding="utf-8") as f:
            value = json.load(f).get("language", AUTO)
        return value if isinstance(value, str) and value else AUTO
    except Exception:
        return AUTO


def apply_language(argv: list[str] | None = None) -> str:
    """Speak the language of this run (see the module text); returns it."""
    lang = set_language(_language_setting(sys.argv[1:] if argv is None else argv))
    _localize_argparse()
    return lang


JSON_HELP = N_("output JSON for programs (always in English)")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS,
                        help=_("portable mode: keep everything under this folder"))
    common.add_argument("--config", default=argparse.SUPPRESS, help=_("the settings file"))
    common.add_argument("--account", default=argparse.SUPPRESS,
                        help=_("the account to use (default: the first)"))
    p = argparse.ArgumentParser(
        prog="traymail", parents=[common],
        description=_("POP3 mail notifier and mini client. Plain `traymail` (no command) "
                      "starts the tray app; on the first run it opens Settings to add an "
                      "account. The commands below work without the tray app."),
        epilog=_("Settings file: {path} (or --home / --config). `traymail --demo` tries the "
                 "app with sample mail, no account needed.").format(
                     path=_settings_file_shown()))
    p.add_argument("--version", action="version", version=f"traymail {__version__}",
                   help=_("show program's version number and exit"))
    p.add_argument("--demo", action="store_true",
                   help=_("run the app against a built-in POP3 server with a sample mailbox"))
    p.add_argument("--show", action="store_true",
                   help=_("open the running traymail's window (or start it)"))
    p.add_argument("--quit", action="store_true", help=_("ask the running traymail to quit"))
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("shell", parents=[common], help=_("speak POP3 command by command"))
    c = sub.add_parser("check", parents=[common], help=_("check for new mail"))
    c.add_argument("--json", action="store_true", help=_(JSON_HELP))
    h = sub.add_parser("headers", parents=[common], help=_("list headers (no download)"))
    h.add_argument("--new", action="store_true", help=_("only new messages"))
    h.add_argument("--json", action="store_true", help=_(JSON_HELP))
    f = sub.add_parser("fetch", parents=[common], help=_("download messages to .eml files"))
    f.add_argument("--new", action="store_true", help=_("every new message"))
    f.add_argument("uids", nargs="*", metavar="UID")
    d = sub.add_parser("delete", parents=[common], help=_("delete messages on the server"))
    d.add_argument("uids", nargs="+", metavar="UID")
    d.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
    sub.add_parser("accounts", parents=[common], help=_("list the configured accounts"))
    sub.add_parser("set-password", parents=[common], help=_("store an account's password"))
    si = sub.add_parser("sign-in", parents=[common],
                        help=_("sign an OAuth2 account in (Microsoft, Google, ...)"))
    si.add_argument("--device", action="store_true",
                    help=_("show a code to enter on any device instead of the browser redirect"))
    si.add_argument("--no-browser", action="store_true",
                    help=_("print the page to open instead of opening the browser"))
    si.add_argument("--timeout", type=float, default=300.0, help=argparse.SUPPRESS)
    disc = sub.add_parser("discover", parents=[common],
                          help=_("find the POP3 settings for an e-mail address"))
    disc.add_argument("address", metavar="ADDRESS")
    disc.add_argument("--json", action="store_true", help=_(JSON_HELP))
    disc.add_argument("--offline", action="store_true",
                      help=_("only the built-in provider table (no network)"))
    # -- rules (traymail.rules_cli) --
    ru = sub.add_parser("rules", parents=[common], help=_("rules on the server's mail"))
    rsub = ru.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    rt = rsub.add_parser("test", parents=[common],
                         help=_("show which rule matches which message, without acting"))
    rt.add_argument("--json", action="store_true", help=_(JSON_HELP))
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``traymail``."""
    apply_language(argv)
    args = build_parser().parse_args(argv)
    from .cli import run

    return run(args)


def gui_main() -> int:
    """Entry point of ``traymailw`` (no console window on Windows)."""
    return main(sys.argv[1:])
