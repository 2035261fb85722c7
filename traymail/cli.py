"""The ``traymail`` command: the console client and subcommands.

Exit status: 0 on success, 1 when an operation failed (one line on stderr),
2 for bad usage or settings. JSON shapes are documented in the README.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .console import apply_language, build_parser
from .i18n import DEFAULT, _, format_date, format_size, ngettext, pgettext, set_language
from .launch import demo_instance_paths as demo_instance_paths  # re-exported (its old home)
from .launch import first_run_text, run_app, run_demo, to_demo
from .mailbox import DownloadFailed, Mailbox, MailboxError
from .passwords import KeyringUnavailable, default_store
from .settings import Paths, Settings, SettingsError, load_settings, resolve_paths
from .store import Store, StoreError
from .text import clean

if TYPE_CHECKING:
    from .discover import Step

__all__ = ["main", "gui_main"]


class Context:
    """Settings, paths, state and mailboxes for one command run."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.paths: Paths = resolve_paths(args.home, args.config)
        self.settings: Settings = load_settings(self.paths.settings_file)
        self.passwords = default_store()
        self._store: Store | None = None
        self._boxes: list[Mailbox] = []

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.paths.state_db)
            if self._store.recovered_from is not None:
                print(_("traymail: the state database was damaged and was moved to "
                        "{path}; starting fresh").format(path=self._store.recovered_from),
                      file=sys.stderr)
        return self._store

    def mailbox(self, name: str | None = None) -> Mailbox:
        account = self.settings.account(name or self.args.account)
        mb = Mailbox(account, self.store, self.passwords, self.paths)
        mb.rules = self.settings.rules  # traymail.rules
        self._boxes.append(mb)
        return mb

    def close(self) -> None:
        """Close the state DB and the transcript logs this run opened."""
        for mb in self._boxes:
            mb.close()
        if self._store is not None:
            self._store.close()


# -- subcommands -------------------------------------------------------------------

def cmd_check(ctx: Context) -> int:
    accounts = ([ctx.settings.account(ctx.args.account)] if ctx.args.account
                else [a for a in ctx.settings.accounts if a.enabled])
    if not accounts:
        raise SettingsError("accounts", _("no enabled account"))
    out: list[dict[str, Any]] = []
    failed = False
    for account in accounts:
        mb = ctx.mailbox(account.name)
        entry: dict[str, Any] = {"name": account.name}
        try:
            r = mb.check()
            entry.update(new_count=r.new_count, new_size=r.new_size, total_count=r.total_count,
                         total_size=r.total_size, newly_arrived=list(r.newly_arrived),
                         state=mb.status.state.value, ignored=r.ignored)
        except MailboxError as exc:
            failed = True
            entry.update(new_count=None, new_size=None, total_count=None, total_size=None,
                         newly_arrived=[], state=exc.state.value, error=clean(str(exc)))
        out.append(entry)
        if not ctx.args.json:
            if "error" in entry:
                print(_("{account}: error: {message}").format(
                    account=account.name, message=clean(entry["error"])))
            else:
                print(_check_line(account.name, entry))
    if ctx.args.json:
        print(json.dumps({"accounts": out}, ensure_ascii=False, indent=2))
    return 1 if failed else 0


def _check_line(name: str, entry: dict[str, Any]) -> str:
    """``dove: 2 new (1.4 KB), 5 messages (3.1 KB), 1 just arrived``."""
    new, total, arrived = entry["new_count"], entry["total_count"], len(entry["newly_arrived"])
    # TRANSLATORS: the parts of "dove: 2 new (1.4 KB), 5 messages (3.1 KB), 1 just arrived"
    return _("{account}: {new}, {total}, {arrived}").format(
        account=name,
        new=ngettext("{n} new ({size})", "{n} new ({size})", new).format(
            n=new, size=format_size(entry["new_size"])),
        total=ngettext("{n} message ({size})", "{n} messages ({size})", total).format(
            n=total, size=format_size(entry["total_size"])),
        arrived=ngettext("{n} just arrived", "{n} just arrived", arrived).format(n=arrived))


def cmd_headers(ctx: Context) -> int:
    heads = ctx.mailbox().headers(new_only=ctx.args.new)
    if ctx.args.json:
        print(json.dumps([{"uid": h.uid, "number": h.number, "size": h.size,
                           "from": h.sender, "subject": h.subject, "date": h.date,
                           "new": h.new, "marked": h.marked, "rule": h.rule} for h in heads],
                         ensure_ascii=False, indent=2))
        return 0
    for h in heads:
        flag = ("N" if h.new else " ") + ("D" if h.marked else " ")
        # the date in the language's style (English: as stored, 2026-11-30 09:00)
        when = format_date(h.timestamp, relative=False) if h.timestamp is not None else h.date
        print(f"{flag} {h.number or '':>4} {when:16} {h.sender[:28]:28} "
              f"{h.subject[:50]:50} {format_size(h.size or 0):>9}  {h.uid}")
    return 0


def cmd_fetch(ctx: Context) -> int:
    mb = ctx.mailbox()
    if ctx.args.new == bool(ctx.args.uids):
        raise SettingsError("fetch", _("give --new or one or more UIDs"))
    progress = _progress_printer() if sys.stderr.isatty() else None
    try:
        files = (mb.download_new(progress) if ctx.args.new
                 else mb.download(ctx.args.uids, progress))
    except DownloadFailed as exc:  # the others were saved: name them, then the failures
        for f in exc.files:
            print(f)
        print(_("traymail: error: {message}").format(message=clean(str(exc))), file=sys.stderr)
        return 1
    if ctx.args.uids and len(files) < len(set(ctx.args.uids)):
        missing = len(set(ctx.args.uids)) - len(files)
        print(ngettext("traymail: {n} of the messages is not on the server",
                       "traymail: {n} of the messages are not on the server",
                       missing).format(n=missing), file=sys.stderr)
    for f in files:
        print(f)
    return 0 if not ctx.args.uids or len(files) == len(set(ctx.args.uids)) else 1


def _progress_printer() -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        print("\r" + _("{done} of {total}").format(done=format_size(done),
                                                   total=format_size(total)),
              end="", file=sys.stderr)
        if done >= total:
            print(file=sys.stderr)
    return show


def cmd_delete(ctx: Context) -> int:
    mb = ctx.mailbox()
    uids = list(dict.fromkeys(ctx.args.uids))
    if not ctx.args.yes:
        if not sys.stdin.isatty():
            raise SettingsError("delete", _("refusing to delete without --yes when stdin is "
                                  "not a terminal"))
        answer = input(ngettext("Delete {n} message from {host}? [y/N] ",
                                "Delete {n} messages from {host}? [y/N] ",
                                len(uids)).format(n=len(uids), host=mb.account.host))
        if answer.strip().lower() not in _yes_answers():
            print(_("nothing deleted"))
            return 0
    mb.mark(uids)
    report = mb.delete_marked(only=uids)
    for uid in report.deleted:
        print(_("deleted {uid}").format(uid=uid))
    for uid in report.gone:
        print(_("not on the server: {uid}").format(uid=uid))
    for uid, why in report.failed:
        print(_("NOT deleted {uid}: {reason}").format(uid=uid, reason=clean(why)))
    return 0 if not report.failed and not report.gone else 1


def _yes_answers() -> set[str]:
    """What counts as "yes" to a question ending ``[y/N]``: y and yes in any
    language, and the current language's own words."""
    # TRANSLATORS: the answers that mean "yes" to a [y/N] question, separated by |;
    # keep y and yes (they are accepted in every language anyway)
    words = pgettext("yes answers", "y|yes").split("|")
    return {w.strip().lower() for w in (*words, "y", "yes") if w.strip()}


NEEDS_ACCOUNT = ("check", "headers", "fetch", "delete", "set-password", "sign-in")


def cmd_accounts(ctx: Context) -> int:
    if not ctx.settings.accounts:
        print(first_run_text(ctx.paths, ctx.args))
    for a in ctx.settings.accounts:
        flags = [] if a.enabled else [_("disabled")]
        if a.security.value == "none":
            flags.append(_("INSECURE: no TLS"))
        extra = f"  ({', '.join(flags)})" if flags else ""
        # TRANSLATORS: {security} is ssl, starttls or none (a settings value: keep it)
        print(_("{account}: {user}@{host}:{port} {security}, every {minutes} min").format(
            account=a.name, user=a.username, host=a.host, port=a.effective_port,
            security=a.security.value, minutes=f"{a.check_interval_minutes:g}") + extra)
    return 0


def cmd_set_password(ctx: Context) -> int:
    account = ctx.settings.account(ctx.args.account)
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass(_("Password for {user}: ").format(user=account.keyring_user))
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise SettingsError("password", _("is empty"))
    ctx.passwords.set(account, password)
    print(_("password for {user} stored in the keyring").format(user=account.keyring_user))
    return 0


def cmd_sign_in(ctx: Context) -> int:
    """OAuth2 sign-in for an account: the browser (loopback redirect) or, with
    --device, a code to enter on any device. Tokens go to the keyring only.
    Exit 0 signed in, 1 the sign-in failed, 2 the account cannot sign in."""
    from .oauth import OAuth2ConfigError, OAuth2Error, clean
    from .oauth_flows import DeviceCode, sign_in
    from .settings import AuthMethod

    account = ctx.settings.account(ctx.args.account)
    if account.auth is not AuthMethod.OAUTH2:
        raise SettingsError(_("account {name}").format(name=account.name),
                            _('does not use OAuth2 (set "auth": "oauth2" and its "oauth2" '
                              'section in settings.json)'))

    def show_url(url: str) -> None:
        how = _("Open this page to sign in") if ctx.args.no_browser else \
            _("Your browser should open; if it does not, open this page")
        print(how + ":\n  " + clean(url, 4000) + "\n"
              + _("Waiting for the sign-in (up to {seconds} s; Ctrl+C stops)...").format(
                  seconds=f"{ctx.args.timeout:g}"), flush=True)

    def show_code(code: DeviceCode) -> None:
        print(_("To sign in to {account}, open\n  {url}\nand enter the code\n  {code}").format(
            account=account.name, url=code.verification_uri, code=code.user_code), flush=True)
        if code.verification_uri_complete:
            print(_("(or open {url})").format(url=code.verification_uri_complete), flush=True)
        print(_("Waiting for the sign-in (Ctrl+C stops)..."), flush=True)

    try:
        sign_in(account, device=True if ctx.args.device else None, on_url=show_url,
                on_device_code=show_code, timeout=ctx.args.timeout,
                open_browser=(lambda url: False) if ctx.args.no_browser else _browser)
    except OAuth2ConfigError as exc:
        print(f"traymail: {exc}", file=sys.stderr)
        return 2
    except OAuth2Error as exc:
        print(_("traymail: sign-in failed: {message}").format(message=clean(str(exc))),
              file=sys.stderr)
        return 1
    print(_("signed in to {account}; the tokens are in the keyring").format(
        account=account.name))
    return 0


def _browser(url: str) -> bool:
    import webbrowser

    return webbrowser.open(url)


def cmd_shell(ctx: Context | None) -> int:
    from .shell import run_shell

    return run_shell()


def cmd_discover(args: argparse.Namespace) -> int:
    """Settings for an address: built-in table, autoconfig, MX, guess (README)."""
    from .discover import DiscoveryError, discover

    def show(step: Step) -> None:
        if not args.json:
            print(f"  {_step_text(step)}", flush=True)

    try:
        result = discover(args.address, offline=args.offline, on_step=show)
    except DiscoveryError as exc:
        print(f"traymail: {exc}", file=sys.stderr)
        return 2
    found = result.found
    if args.json:
        out = found.to_json() if found else {
            "host": None, "port": None, "security": None, "auth": None, "provider": None,
            "source": None, "notes": ["nothing found; enter the server by hand"]}
        out["steps"] = [str(s) for s in result.steps]
        print(json.dumps(out, ensure_ascii=False, indent=2))
    elif found is None:
        print(_("nothing found for {address}; enter the server by hand").format(
            address=result.address))
    else:
        if found.host is None:
            print(_("{provider}: no POP3 server").format(provider=found.provider))
        else:
            # TRANSLATORS: {source}, {security} and {auth} are settings values: keep them
            print(_("{provider} ({source}): {host} port {port}, {security}, {auth}, "
                    "user name {user}").format(
                provider=found.provider, source=found.source, host=found.host,
                port=found.port, security=found.security, auth=found.auth,
                user=found.username))
        for note in found.notes:
            if note.startswith("Help: "):  # the provider's help page (providers.py)
                note = _("Help: {url}").format(url=note.removeprefix("Help: "))
            print(_("note: {note}").format(note=_(note)))  # N_() in providers, discover
    return 0 if found is not None and found.host is not None else 1


def _step_text(step: Step) -> str:
    """A discovery step as ui.discover_panel shows it (names and outcomes are
    English in the data and the JSON, N_() where they are made)."""
    return _("{name} ({target}): {outcome}").format(
        name=_(step.name), target=step.target, outcome=_(step.outcome) if step.outcome else "")


# -- rules -----------------------------------------------------------------------------

def cmd_rules(ctx: Context) -> int:
    from .rules_cli import rules_test

    return rules_test(ctx.mailbox(), json_out=ctx.args.json)


COMMANDS: dict[str, Callable[[Context], int]] = {
    "check": cmd_check, "headers": cmd_headers, "fetch": cmd_fetch, "delete": cmd_delete,
    "accounts": cmd_accounts, "set-password": cmd_set_password, "sign-in": cmd_sign_in,
    "rules": cmd_rules,
}


def _gui_errors() -> tuple[type[Exception], ...]:
    """Tk missing (no python3-tk) or no display: the console commands still work.
    Called only when the GUI failed (tkinter is imported by it, never by a command)."""
    tkinter = sys.modules.get("tkinter")
    return (ImportError,) if tkinter is None else (tkinter.TclError, ImportError)


def _no_display(exc: Exception) -> int:
    print(_("traymail: cannot open a window ({reason}). The tray app needs a desktop "
            "session; the console commands (traymail shell, check, headers...) work "
            "without one.").format(reason=clean(str(exc))), file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    apply_language(argv)
    argv = sys.argv[1:] if argv is None else argv
    return run(build_parser(argv).parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run parsed arguments (:func:`traymail.console.main` parses them first)."""
    for name in ("home", "config", "account"):
        if not hasattr(args, name):
            setattr(args, name, None)
    if getattr(args, "json", False):
        # --json is for programs: the JSON -- error texts included -- and whatever
        # goes to stderr stay English, whatever the language (README "Languages")
        set_language(DEFAULT)
    if args.demo:
        try:
            return run_demo(args)
        except _gui_errors() as exc:
            return _no_display(exc)
    if args.command == "shell":
        return cmd_shell(None)
    if args.command == "discover":
        return cmd_discover(args)
    if args.quit:
        from .instance import send_to_running

        if send_to_running(resolve_paths(args.home, args.config), "quit"):
            return 0
        # the demo (perhaps started by "Try the demo" of a --home first run) has
        # its own, per-user address: it is reached from any home
        if to_demo("quit"):
            print(_("the traymail demo was asked to quit."))
            return 0
        print(_("traymail: no running instance"), file=sys.stderr)
        return 1
    if args.command is None:
        try:
            return run_app(args)
        except _gui_errors() as exc:
            return _no_display(exc)
    ctx: Context | None = None
    try:
        ctx = Context(args)
        if args.command in NEEDS_ACCOUNT and not ctx.settings.accounts:
            print(first_run_text(ctx.paths, args), file=sys.stderr)
            return 2
        return COMMANDS[args.command](ctx)
    except SettingsError as exc:
        print(f"traymail: {exc}", file=sys.stderr)
        return 2
    except (MailboxError, KeyringUnavailable, StoreError) as exc:
        print(_("traymail: error: {message}").format(message=clean(str(exc))), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if ctx is not None:
            ctx.close()


def gui_main() -> int:
    """Entry point of ``traymailw`` (no console window on Windows)."""
    return main(sys.argv[1:])
