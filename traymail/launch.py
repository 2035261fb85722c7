"""Starting the tray app and the demo from the command line: the first-run
message, the demo's throwaway home and its per-user single-instance address
(``--show``/``--quit`` reach it from any ``--home``)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from dataclasses import replace
from pathlib import Path

from .i18n import _, apply_settings_language
from .settings import Paths, SettingsError, load_settings, resolve_paths

__all__ = ["first_run_text", "demo_instance_paths", "run_demo", "run_app", "to_demo"]


def first_run_text(paths: Paths, args: argparse.Namespace, app: bool = False) -> str:
    """The one message for "no account yet", wherever it is met (``app``: the
    tray app is starting and its Settings window is opening)."""
    if app:
        return _("traymail: no account is set up yet (settings file: {path}). "
                 "The tray app is starting and its Settings window opens, where you add an "
                 "account (or try the demo).").format(path=paths.settings_file)
    start = "traymail"
    if args.home is not None:
        start += f" --home {args.home}"
    if args.config is not None:
        start += f" --config {args.config}"
    return _("traymail: no account is set up yet (settings file: {path}). "
             "Run `{command}` with no command: it starts the tray app and opens its Settings, "
             "where you add an account (or try the demo). You can also write the file by "
             "hand from settings.json.example.").format(path=paths.settings_file, command=start)



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
        print(_("traymail: could not remove the {what} {path}: {problems}").format(
            what=what, path=path, problems="; ".join(problems[:3])), file=sys.stderr)
        return False
    return True


def run_demo(args: argparse.Namespace) -> int:
    """The whole app against the built-in POP3 server with a living sample
    mailbox (a new message every ~30 s), in a throwaway home that is removed
    at the end (exit status 1 when it could not be)."""
    import tempfile

    from .instance import send_to_running

    instance = demo_instance_paths()
    if instance.state_dir.is_dir() and send_to_running(instance, "show"):
        print(_("the traymail demo is already running; its window was opened."))
        return 0
    if not _private_dir(instance.state_dir):
        print(_("traymail: {path} is not a private folder of yours; the demo "
                "runs without a single-instance address").format(path=instance.state_dir),
              file=sys.stderr)
        instance_paths: Paths | None = None
    else:
        instance_paths = instance
    home = Path(tempfile.mkdtemp(prefix="traymail-demo-"))
    try:
        status = _demo_app(home, instance_paths)
    finally:
        removed = _remove_tree(home, _("demo folder"))
        if instance_paths is not None:
            _remove_tree(instance_paths.state_dir, _("demo instance folder"))
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
        print(_("traymail demo: POP3 server on 127.0.0.1:{port} (user demo, "
                "password demo); a new message arrives every {seconds} s. "
                "Quit from the tray menu.").format(port=srv.port, seconds=f"{every:g}"),
              flush=True)
        app = App(paths, accounts=accounts, title_note=" demo", demo=True,
                  single_instance=instance_paths is not None, instance_paths=instance_paths)
        try:
            return app.run()
        finally:
            stop.set()
            accounts.close()


def run_app(args: argparse.Namespace) -> int:
    """The tray app; a second launch hands over to the first and exits."""
    from .instance import send_to_running

    paths = resolve_paths(args.home, args.config)
    if send_to_running(paths, "show"):
        print(_("traymail is already running; its window was opened."))
        return 0
    if args.show and to_demo("show"):
        print(_("the traymail demo is running; its window was opened."))
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
    apply_settings_language(settings)  # the "language" setting, else the OS's
    if not settings.accounts and damaged is None:
        print(first_run_text(paths, args, app=True), flush=True)
    accounts = Accounts(paths, settings)
    accounts.damaged_settings = damaged
    return App(paths, accounts=accounts).run()


def to_demo(message: str) -> bool:
    """Tell a running ``traymail --demo`` (at its well-known address)."""
    from .instance import send_to_running

    demo = demo_instance_paths()
    return demo.state_dir.is_dir() and send_to_running(demo, message)
