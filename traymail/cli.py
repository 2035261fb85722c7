"""The ``traymail`` command: the console client and subcommands.

Exit status: 0 on success, 1 when an operation failed (one line on stderr),
2 for bad usage or settings. JSON shapes are documented in the README.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .console import build_parser
from .mailbox import Mailbox, MailboxError
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
                         state=mb.status.state.value)
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
                           "new": h.new, "marked": h.marked} for h in heads],
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
    files = mb.download_new(progress) if ctx.args.new else mb.download(ctx.args.uids, progress)
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


def cmd_accounts(ctx: Context) -> int:
    if not ctx.settings.accounts:
        print(f"no accounts; edit {ctx.paths.settings_file} (see settings.json.example)")
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


def demo_instance_paths() -> Paths:
    """The demo's well-known single-instance address: one per user, outside
    the real traymail's folders (the demo's data lives in a throwaway home,
    whose name nobody else can know). ``--show``, ``--quit`` and a second
    ``--demo`` find the running demo here."""
    import tempfile

    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()  # per user on Windows
    uid = os.getuid() if hasattr(os, "getuid") else 0
    root = Path(base) / f"traymail-demo-{uid}"
    return Paths(root / "settings.json", root, root, root, portable=True)


def _private_dir(path: Path) -> bool:
    """Create ``path`` 0700, or accept it if it is ours, a real folder, private."""
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return False
    import stat

    if not stat.S_ISDIR(st.st_mode):
        return False
    if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o077):
        return False
    return True


def _remove_tree(path: Path, what: str) -> bool:
    """rmtree that says when something could not be removed (a file still
    open on Windows, say) instead of hiding it."""
    import shutil

    problems: list[str] = []

    def failed(func: object, name: str, exc: BaseException) -> None:
        problems.append(f"{name}: {exc}")

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=failed)
    else:  # pragma: no cover - 3.11
        shutil.rmtree(path, onerror=lambda f, n, ei: failed(f, n, ei[1]))
    if problems or path.exists():
        print(f"traymail: could not remove the {what} {path}: " + "; ".join(problems[:3]),
              file=sys.stderr)
        return False
    return True


def _demo(args: argparse.Namespace) -> int:
    """The whole app against the built-in POP3 server with a living sample
    mailbox (a new message every ~30 s), in a throwaway home that is removed
    at the end (exit status 1 when it could not be)."""
    import tempfile

    from .instance import send_to_running

    instance = demo_instance_paths()
    if instance.state_dir.is_dir() and send_to_running(instance, "show"):
        print("the traymail demo is already running; its window was opened.")
        return 0
    if not _private_dir(instance.state_dir):
        print(f"traymail: {instance.state_dir} is not a private folder of yours; the demo "
              "runs without a single-instance address", file=sys.stderr)
        instance_paths: Paths | None = None
    else:
        instance_paths = instance
    home = Path(tempfile.mkdtemp(prefix="traymail-demo-"))
    try:
        status = _demo_app(home, instance_paths)
    finally:
        removed = _remove_tree(home, "demo folder")
        if instance_paths is not None:
            _remove_tree(instance_paths.state_dir, "demo instance folder")
    return status if removed else 1


def _demo_app(home: Path, instance_paths: Paths | None) -> int:
    from .accounts import Accounts
    from .app import App
    from .devserver import DevServer, MemoryMailbox
    from .passwords import MemoryStore
    from .samples import sample_message, sample_messages
    from .settings import Account, Security, Settings

    box = MemoryMailbox(sample_messages(12))
    with DevServer(box, {"demo": "demo"}) as srv:
        account = Account("Demo", "127.0.0.1", "demo", security=Security.NONE,
                          port=srv.port, allow_insecure=True, check_interval_minutes=1)
        every = float(os.environ.get("TRAYMAIL_DEMO_EVERY", "30"))
        if every < 30:  # tests speed the demo up; so does its poller
            account = replace(account, check_interval_minutes=every / 60)
        passwords = MemoryStore()
        passwords.set(account, "demo")
        paths = resolve_paths(home=home)
        accounts = Accounts(paths, Settings((account,)), passwords=passwords)
        stop = threading.Event()

        def arrivals() -> None:
            i = 12
            while not stop.wait(every):
                box.add(sample_message(i))
                i += 1

        threading.Thread(target=arrivals, name="demo-arrivals", daemon=True).start()
        print(f"traymail demo: POP3 server on 127.0.0.1:{srv.port} (user demo, "
              f"password demo); a new message arrives every {every:g} s. "
              "Quit from the tray menu.", flush=True)
        app = App(paths, accounts=accounts, title_note=" demo", demo=True,
                  single_instance=instance_paths is not None, instance_paths=instance_paths)
        try:
            return app.run()
        finally:
            stop.set()
            accounts.close()


def _run_app(args: argparse.Namespace) -> int:
    """The tray app; a second launch hands over to the first and exits."""
    from .instance import send_to_running

    paths = resolve_paths(args.home, args.config)
    if send_to_running(paths, "show"):
        print("traymail is already running; its window was opened.")
        return 0
    if args.show and args.home is None and args.config is None and _to_demo("show"):
        print("the traymail demo is running; its window was opened.")
        return 0
    from .accounts import Accounts
    from .app import App
    from .settings import Settings

    try:
        settings = load_settings(paths.settings_file)
        damaged: SettingsError | None = None
    except SettingsError as exc:  # run anyway; the file is kept and the user told
        print(f"traymail: {exc}", file=sys.stderr)
        settings, damaged = Settings(), exc
    accounts = Accounts(paths, settings)
    accounts.damaged_settings = damaged
    return App(paths, accounts=accounts).run()


def _to_demo(message: str) -> bool:
    """Tell a running ``traymail --demo`` (at its well-known address)."""
    from .instance import send_to_running

    demo = demo_instance_paths()
    return demo.state_dir.is_dir() and send_to_running(demo, message)


# -- parser ----------------------------------------------------------------------------

COMMANDS: dict[str, Callable[[Context], int]] = {
    "check": cmd_check, "headers": cmd_headers, "fetch": cmd_fetch, "delete": cmd_delete,
    "accounts": cmd_accounts, "set-password": cmd_set_password, "sign-in": cmd_sign_in,
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
            return _demo(args)
        except _gui_errors() as exc:
            return _no_display(exc)
    if args.command == "shell":
        return cmd_shell(None)
    if args.command == "discover":
        return cmd_discover(args)
    if args.quit:
        from .instance import send_to_running

        if send_to_running(resolve_paths(args.home, args.config), "quit") or \
                (args.home is None and args.config is None and _to_demo("quit")):
            return 0
        print("traymail: no running instance", file=sys.stderr)
        return 1
    if args.command is None:
        try:
            return _run_app(args)
        except _gui_errors() as exc:
            return _no_display(exc)
    ctx: Context | None = None
    try:
        ctx = Context(args)
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
