"""The ``traymail`` command: the console client and subcommands."""

from __future__ import annotations

import argparse
import sys
import threading

from . import __version__

__all__ = ["main", "gui_main"]


def _demo(args: argparse.Namespace) -> int:
    """Run against the built-in POP3 server with a living sample mailbox."""
    from .devserver import DevServer, MemoryMailbox
    from .samples import sample_message, sample_messages
    from .shell import run_shell

    box = MemoryMailbox(sample_messages(8))
    with DevServer(box, {"demo": "demo"}) as srv:
        stop = threading.Event()

        def arrivals() -> None:  # a new message every 45 s keeps the mailbox alive
            i = 8
            while not stop.wait(45):
                box.add(sample_message(i))
                i += 1

        threading.Thread(target=arrivals, name="demo-arrivals", daemon=True).start()
        print(f"demo POP3 server on 127.0.0.1:{srv.port} (user demo, password demo)")
        print("the tray app is not built yet; the demo opens the console client.")
        try:
            return run_shell(preamble=[f"connect 127.0.0.1 {srv.port}", "user demo"])
        finally:
            stop.set()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="traymail", description="POP3 mail notifier and client")
    p.add_argument("--version", action="version", version=f"traymail {__version__}")
    p.add_argument("--demo", action="store_true",
                   help="run against a built-in POP3 server with a sample mailbox")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("shell", help="speak POP3 command by command")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.demo:
        return _demo(args)
    if args.command == "shell":
        from .shell import run_shell

        return run_shell()
    build_parser().print_help()
    return 0


def gui_main() -> int:
    """Entry point of ``traymailw`` (no console window on Windows)."""
    return main(sys.argv[1:])


