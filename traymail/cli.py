"""The ``traymail`` command: the console client and subcommands.

Exit status: 0 on success, 1 when an operation failed (one line on stderr),
2 for bad usage or settings. JSON shapes are documented in the README.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from .console import build_parser
from .launch import demo_instance_paths as demo_instance_paths  # re-exported (its old home)
from .launch import first_run_text, run_app, run_demo, to_demo
from .mailbox import DownloadFailed, Mailbox, MailboxError
from .passwords import KeyringUnavailable, default_store
from .settings import Paths, Settings, SettingsError, load_settings, resolve_paths
from .store import Store, StoreError
from .text import clean, format_size

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
                print(f"traymail: the state database was damaged and was moved to "
                      f"{self._store.recovered_from}; starting fresh", file=sys.stderr)
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
        raise SettingsError("accounts", "no enabled account")
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
                print(f"{account.name}: error: {clean(entry['error'])}")
            else:
                print(f"{account.name}: {entry['new_count']} new "
                      f"({format_size(entry['new_size'])}), {entry['total_count']} messages "
                      f"({format_size(entry['total_size'])}), "
                      f"{len(entry['newly_arrived'])} just arrived")
    if ctx.args.json:
        print(json.dumps({"accounts": out}, ensure_ascii=False, indent=2))
    return 1 if failed else 0


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
        print(f"{flag} {h.number or '':>4} {h.date:16} {h.sender[:28]:28} "
              f"{h.subject[:50]:50} {format_size(h.size or 0):>9}  {h.uid}")
    return 0


def cmd_fetch(ctx: Context) -> int:
    mb = ctx.mailbox()
    if ctx.args.new == bool(ctx.args.uids):
        raise SettingsError("fetch", "give --new or one or more UIDs")
    progress = _progress_printer() if sys.stderr.isatty() else None
    try:
        files = (mb.download_new(progress) if ctx.args.new
                 else mb.download(ctx.args.uids, progress))
    except DownloadFailed as exc:  # the others were saved: name them, then the failures
        for f in exc.files:
            print(f)
        print(f"traymail: error: {exc}", file=sys.stderr)
        return 1
    if ctx.args.uids and len(files) < len(set(ctx.args.uids)):
        print(f"traymail: {len(set(ctx.args.uids)) - len(files)} of the messages are not on "
              "the server", file=sys.stderr)
    for f in files:
        print(f)
    return 0 if not ctx.args.uids or len(files) == len(set(ctx.args.uids)) else 1


def _progress_printer() -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        print(f"\r{format_size(done)} of {format_size(total)}", end="", file=sys.stderr)
        if done >= total:
            print(file=sys.stderr)
    return show


def cmd_delete(ctx: Context) -> int:
    mb = ctx.mailbox()
    uids = list(dict.fromkeys(ctx.args.uids))
    if not ctx.args.yes:
        if not sys.stdin.isatty():
            raise SettingsError("delete", "refusing to delete without --yes when stdin is "
                                "not a terminal")
        answer = input(f"Delete {len(uids)} message(s) from {mb.account.host}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 0
    mb.mark(uids)
    report = mb.delete_marked(only=uids)
    for uid in report.deleted:
        print(f"deleted {uid}")
    for uid in report.gone:
        print(f"not on the server: {uid}")
    for uid, why in report.failed:
        print(f"NOT deleted {uid}: {clean(why)}")
    return 0 if not report.failed and not report.gone else 1


NEEDS_ACCOUNT = ("check", "headers", "fetch", "delete", "set-password", "sign-in")


def cmd_accounts(ctx: Context) -> int:
    if not ctx.settings.accounts:
        print(first_run_text(ctx.paths, ctx.args))
    for a in ctx.settings.accounts:
        flags = [] if a.enabled else ["disabled"]
        if a.security.value == "none":
            flags.append("INSECURE: no TLS")
        extra = f"  ({', '.join(flags)})" if flags else ""
        print(f"{a.name}: {a.username}@{a.host}:{a.effective_port} {a.security.value}, "
              f"every {a.check_interval_minutes:g} min{extra}")
    return 0


def cmd_set_password(ctx: Context) -> int:
    account = ctx.settings.account(ctx.args.account)
    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {account.keyring_user}: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise SettingsError("password", "is empty")
    ctx.passwords.set(account, password)
    print(f"password for {account.keyring_user} stored in the keyring")
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
        raise SettingsError(f"account {account.name}", 'does not use OAuth2 (set "auth": '
                            '"oauth2" and its "oauth2" section in settings.json)')

    def show_url(url: str) -> None:
        how = "Open this page to sign in" if ctx.args.no_browser else \
            "Your browser should open; if it does not, open this page"
        print(f"{how}:\n  {clean(url, 4000)}\nWaiting for the sign-in "
              f"(up to {ctx.args.timeout:g} s; Ctrl+C stops)...", flush=True)

    def show_code(code: DeviceCode) -> None:
        print(f"To sign in to {account.name}, open\n  {code.verification_uri}\nand enter "
              f"the code\n  {code.user_code}", flush=True)
        if code.verification_uri_complete:
            print(f"(or open {code.verification_uri_complete})", flush=True)
        print("Waiting for the sign-in (Ctrl+C stops)...", flush=True)

    try:
        sign_in(account, device=True if ctx.args.device else None, on_url=show_url,
                on_device_code=show_code, timeout=ctx.args.timeout,
                open_browser=(lambda url: False) if ctx.args.no_browser else _browser)
    except OAuth2ConfigError as exc:
        print(f"traymail: {exc}", file=sys.stderr)
        return 2
    except OAuth2Error as exc:
        print(f"traymail: sign-in failed: {exc}", file=sys.stderr)
        return 1
    print(f"signed in to {account.name}; the tokens are in the keyring")
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

    def show(step: object) -> None:
        if not args.json:
            print(f"  {step}", flush=True)

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
        print(f"nothing found for {result.address}; enter the server by hand")
    else:
        if found.host is None:
            print(f"{found.provider}: no POP3 server")
        else:
            print(f"{found.provider} ({found.source}): {found.host} port {found.port}, "
                  f"{found.security}, {found.auth}, user name {found.username}")
        for note in found.notes:
            print(f"note: {note}")
    return 0 if found is not None and found.host is not None else 1


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
    print(f"traymail: cannot open a window ({exc}). The tray app needs a desktop "
          "session; the console commands (traymail shell, check, headers...) work "
          "without one.", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run parsed arguments (:func:`traymail.console.main` parses them first)."""
    for name in ("home", "config", "account"):
        if not hasattr(args, name):
            setattr(args, name, None)
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
            print("the traymail demo was asked to quit.")
            return 0
        print("traymail: no running instance", file=sys.stderr)
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
        print(f"traymail: error: {clean(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if ctx is not None:
            ctx.close()


def gui_main() -> int:
    """Entry point of ``traymailw`` (no console window on Windows)."""
    return main(sys.argv[1:])
