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
import os
import sys
from collections.abc import Callable, Sequence

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

        pre = argparse.ArgumentParser(add_help=False, formatter_class=_Formatter)
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


TYPE_CHECKING = False  # (typing.TYPE_CHECKING, without importing typing: ~4 ms of --help)
if TYPE_CHECKING:
    from typing import TypeAlias

    _SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, its width found without :mod:`shutil` (which
    argparse imports for it, and which loads bz2 and lzma: ~3 ms a call)."""

    def __init__(self, prog: str) -> None:
        try:  # (shutil.get_terminal_size's rule)
            columns = int(os.environ["COLUMNS"])
        except (KeyError, ValueError):
            columns = 0
        if columns <= 0:
            out = sys.__stdout__
            try:
                columns = (os.get_terminal_size(out.fileno()).columns if out else 0) or 80
            except (AttributeError, ValueError, OSError):  # closed, not a terminal
                columns = 80
        super().__init__(prog, width=columns - 2)


def _add(sub: _SubParsers, name: str, common: argparse.ArgumentParser,
         help: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, parents=[common], formatter_class=_Formatter, help=help)


def _shell(sub: _SubParsers, common: argparse.ArgumentParser) -> None:
    _add(sub, "shell", common, help=_("speak POP3 command by command"))


def _check(sub: _SubParsers, common: argparse.ArgumentParser) -> None:
    c = _add(sub, "check", common, help=_("check for new mail"))
    c.add_argument("--json", action="store_true", help=_(JSON_HELP))


def _headers(sub: _SubParsers, common: argparse.ArgumentParser) -> None:
    h = _add(sub, "headers", common, help=_("list headers (no download)"))
    h.add_argument("--new", action="store_true", help=_("only new messages"))
    h.add_argument("--json", action="store_true", help=_(JSON_HELP))


def _fetch(sub: _SubParsers, common: argparse.ArgumentParser) -> None:
    f = _add(sub, "fetch", common, help=_("download messages to .eml files"))
    f.add_argument("--new", action="store_true", help=_("every new message"))
    f.add_argument("uids", nargs="*", metavar="UID")


def _delete(sub: _SubParsers, common: argparse.ArgumentParser) -> None:
    d = _add(sub, "delete", common, help=_("delete messages on the server"))
    d.add_argument("uids", nargs="+", metavar="UID")
    d.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))


def _accounts(sub: _SubParsers, common: argparse.ArgumentParser) -> None:
    _add(sub, "accounts", common, help=_("list the configured accounts"))


def _set_password(sub: _SubParsers, common: argparse.ArgumentParser) -> None:
    _add(sub, "set-password", common, help=_("store an account's password"))


def _sign_in(sub: _SubParsers, common: argparse.ArgumentParser) -> None:
    si = _add(sub, "sign-in", common,
                        help=_("sign an OAuth2 account in (Microsoft, Google, ...)"))
    si.add_argument("--device", action="store_true",
                    help=_("show a code to enter on any device instead of the browser redirect"))
    si.add_argument("--no-browser", action="store_true",
                    help=_("print the page to open instead of opening the browser"))
    si.add_argument("--timeout", type=float, default=300.0, help=argparse.SUPPRESS)


def _discover(sub: _SubParsers, common: argparse.ArgumentParser) -> None:
    disc = _add(sub, "discover", common,
                          help=_("find the POP3 settings for an e-mail address"))
    disc.add_argument("address", metavar="ADDRESS")
    disc.add_argument("--json", action="store_true", help=_(JSON_HELP))
    disc.add_argument("--offline", action="store_true",
                      help=_("only the built-in provider table (no network)"))


def _rules(sub: _SubParsers, common: argparse.ArgumentParser) -> None:  # traymail.rules_cli
    ru = _add(sub, "rules", common, help=_("rules on the server's mail"))
    rsub = ru.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    rt = _add(rsub, "test", common,
                         help=_("show which rule matches which message, without acting"))
    rt.add_argument("--json", action="store_true", help=_(JSON_HELP))


#: the subcommands, in the order ``--help`` lists them
_COMMANDS: dict[str, Callable[[_SubParsers, argparse.ArgumentParser], None]] = {
    "shell": _shell, "check": _check, "headers": _headers, "fetch": _fetch,
    "delete": _delete, "accounts": _accounts, "set-password": _set_password,
    "sign-in": _sign_in, "discover": _discover, "rules": _rules,
}
#: the options before a command that take a value (as ``--home X`` or ``--home=X``)
_VALUED = ("--home", "--config", "--account")
#: options that need every command in the parser
_FULL = ("--help", "--version")


def _abbreviates(arg: str, options: Sequence[str]) -> bool:
    """Is ``arg`` one of ``options`` or a prefix argparse would take for one
    ("--acc" for "--account")?"""
    return len(arg) > 2 and arg.startswith("--") and any(o.startswith(arg) for o in options)


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names, when that is certain without argparse:
    the first word that is no option or option value, if it is a command
    and no ``-h``/``--help``/``--version`` is in ``argv`` (those need every
    command in the parser). Else None."""
    if any(a == "-h" or _abbreviates(a, _FULL) for a in argv):
        return None
    it = iter(argv)
    for arg in it:
        if arg == "--":
            return None
        if arg.startswith("-"):
            if _abbreviates(arg, _VALUED):  # (not "--home=X": its value is in it)
                next(it, None)
            continue
        return arg if arg in _COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser. Given the arguments of a run that names a command
    (:func:`command_of`), only that command's subparser is built: building
    all of them costs a console call ~15 ms of CPU, and parsing goes the same
    way (``--help``, a usage error without a command, an unknown command:
    every command is built)."""
    only = command_of(argv) if argv is not None else None
    common = argparse.ArgumentParser(add_help=False, formatter_class=_Formatter)
    common.add_argument("--home", default=argparse.SUPPRESS,
                        help=_("portable mode: keep everything under this folder"))
    common.add_argument("--config", default=argparse.SUPPRESS, help=_("the settings file"))
    common.add_argument("--account", default=argparse.SUPPRESS,
                        help=_("the account to use (default: the first)"))
    p = argparse.ArgumentParser(
        prog="traymail", parents=[common], formatter_class=_Formatter,
        description=_("POP3 mail notifier and mini client. Plain `traymail` (no command) "
                      "starts the tray app; on the first run it opens Settings to add an "
                      "account. The commands below work without the tray app."),
        epilog=_("Settings file: {path} (or --home / --config). `traymail --demo` tries the "
                 "app with sample mail, no account needed.").format(
                     path=_settings_file_shown()) if only is None else None)
    p.add_argument("--version", action="version", version=f"traymail {__version__}",
                   help=_("show program's version number and exit"))
    p.add_argument("--demo", action="store_true",
                   help=_("run the app against a built-in POP3 server with a sample mailbox"))
    p.add_argument("--show", action="store_true",
                   help=_("open the running traymail's window (or start it)"))
    p.add_argument("--quit", action="store_true", help=_("ask the running traymail to quit"))
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, add in _COMMANDS.items():
        if only is None or name == only:
            add(sub, common)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``traymail``."""
    apply_language(argv)
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    from .cli import run

    return run(args)


def gui_main() -> int:
    """Entry point of ``traymailw`` (no console window on Windows)."""
    return main(sys.argv[1:])
