"""The fault campaign: every engine operation x every fault, against the
devserver, with invariants checked after each run.

Invariants: no wrong deletion (the server holds exactly what it should), no
partial file under a final name, no state-DB corruption, a user-facing
state from the allowed set, and no thread left hung.

    python scripts/fault_campaign.py      prints the summary table
"""

from __future__ import annotations

import errno
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from traymail import files as files_module
from traymail.devserver import DevServer, Faults, MemoryMailbox
from traymail.mailbox import Mailbox, MailboxError
from traymail.passwords import MemoryStore
from traymail.samples import sample_message, sample_messages
from traymail.session import AccountState
from traymail.settings import Account, Security, resolve_paths
from traymail.store import Store

OPERATIONS = ("check", "headers", "preview", "download", "delete_marked", "quit_without_deleting")
#: the command each operation depends on most (where an -ERR hurts it)
KEY_COMMAND = {"check": "UIDL", "headers": "TOP", "preview": "TOP", "download": "RETR",
               "delete_marked": "DELE", "quit_without_deleting": "QUIT"}
OK = frozenset({"ok"})
FAILED_STATES = frozenset(s.value for s in AccountState) - {"idle"}


@dataclass
class Fault:
    name: str
    faults: Callable[[str], Faults] = field(default=lambda op: Faults())
    #: outcomes allowed: "ok" or an AccountState value
    allowed: frozenset[str] = FAILED_STATES | OK
    #: a setup hook run on (mailbox, server) right before the operation
    before: Callable[[Mailbox, DevServer], None] | None = None
    #: patch hook for local faults (disk); returns an undo function
    patch: Callable[[], Callable[[], None]] | None = None
    timeout: float = 2.0


def _drop(n: int) -> Fault:
    return Fault(f"drop after {n} bytes", lambda op: Faults(drop_after_bytes=n),
                 FAILED_STATES | OK)


def _code(code: str, where: str) -> Fault:
    state = {"IN-USE": "busy", "LOGIN-DELAY": "waiting", "SYS/TEMP": "backoff",
             "SYS/PERM": "stopped", "AUTH": "auth-failed"}[code]
    line = f"-ERR [{code}] injected"

    def faults(op: str) -> Faults:
        cmd = "PASS" if where == "login" else KEY_COMMAND[op]
        return Faults(errors={cmd: line})

    allowed = frozenset({state, "ok", "error"}) if where != "login" else frozenset({state, "ok"})
    return Fault(f"-ERR [{code}] at {where}", faults, allowed)


def _renumber(mb: Mailbox, srv: DevServer) -> None:
    box = srv.mailbox
    assert isinstance(box, MemoryMailbox)
    box.renumber()
    box.add(sample_message(99))


def _reuse_uid(mb: Mailbox, srv: DevServer) -> None:
    box = srv.mailbox
    assert isinstance(box, MemoryMailbox)
    # a *marked* message's UID now names another message: it must not be deleted
    box.reuse_uid(box.uids()[1], b"Subject: not the same message\r\n\r\nother body\r\n")


def _disk(err: int) -> Callable[[], Callable[[], None]]:
    def patch() -> Callable[[], None]:
        original = files_module.ProgressFile.write

        def failing(self: object, data: bytes) -> int:
            raise OSError(err, f"injected: {errno.errorcode[err]}", "download.part")

        files_module.ProgressFile.write = failing  # type: ignore[method-assign]
        return lambda: setattr(files_module.ProgressFile, "write", original)
    return patch


FAULTS: list[Fault] = [
    Fault("none", allowed=OK),
    *[_drop(n) for n in (0, 20, 60, 120, 250, 500, 1000, 2000, 4000, 8000, 16000)],
    Fault("stall past the timeout", lambda op: Faults(stall={KEY_COMMAND[op]: 3.0}),
          frozenset({"backoff", "ok"}), timeout=0.5),
    Fault("bare LF", lambda op: Faults(bare_lf=True), OK),
    *[_code(c, "login") for c in ("IN-USE", "LOGIN-DELAY", "SYS/TEMP", "SYS/PERM", "AUTH")],
    *[_code(c, "command") for c in ("IN-USE", "SYS/TEMP", "SYS/PERM")],
    Fault("-ERR without a code", lambda op: Faults(errors={KEY_COMMAND[op]: "-ERR no"}),
          frozenset({"ok", "error"})),
    Fault("garbage status line", lambda op: Faults(raw={KEY_COMMAND[op]: b"\x00\xffHTTP/1.1\r\n"}),
          frozenset({"ok", "error"})),
    Fault("over-long line", lambda op: Faults(raw={KEY_COMMAND[op]: b"+OK " + b"x" * 20000}),
          frozenset({"ok", "error"})),
    Fault("no CAPA", lambda op: Faults(omit=frozenset({"CAPA"})), OK),
    Fault("no UIDL", lambda op: Faults(omit=frozenset({"UIDL"})), OK),
    Fault("no TOP", lambda op: Faults(omit=frozenset({"TOP"})), frozenset({"ok", "stopped"})),
    Fault("no PIPELINING", lambda op: Faults(omit=frozenset({"PIPELINING"})), OK),
    Fault("mailbox renumbered", before=_renumber, allowed=OK),
    Fault("UIDL reused for another message", before=_reuse_uid, allowed=OK),
    Fault("disk full", patch=_disk(errno.ENOSPC), allowed=frozenset({"ok", "error"})),
    Fault("permission denied", patch=_disk(errno.EACCES), allowed=frozenset({"ok", "error"})),
]


@dataclass
class Outcome:
    operation: str
    fault: str
    outcome: str
    problems: list[str]
    seconds: float


def run_one(op: str, fault: Fault, workdir: Path) -> Outcome:
    box = MemoryMailbox(sample_messages(6))
    srv = DevServer(box, {"user": "pass"}).start()
    problems: list[str] = []
    t0 = time.monotonic()
    outcome = "ok"
    undo: Callable[[], None] | None = None
    try:
        home = workdir / f"{op}-{abs(hash(fault.name))}"
        paths = resolve_paths(home=home)
        account = Account("acct", "127.0.0.1", "user", security=Security.NONE, port=srv.port,
                          allow_insecure=True)
        store = MemoryStore()
        store.set(account, "pass")
        mb = Mailbox(account, Store(paths.state_db), store, paths, timeout=fault.timeout)
        heads = mb.headers()  # a healthy start: everything known and cached
        marked = [heads[1].uid, heads[3].uid]
        mb.mark(marked)
        before = {m.uid: m.data for m in box.snapshot()}
        srv.faults = fault.faults(op)
        if fault.before is not None:
            fault.before(mb, srv)
        expected_server = {m.uid: m.data for m in box.snapshot()}
        if fault.patch is not None:
            undo = fault.patch()
        done = threading.Event()
        error: list[BaseException] = []

        def work() -> None:
            try:
                if op == "check":
                    mb.check()
                elif op == "headers":
                    mb.headers()
                elif op == "preview":
                    mb.preview(heads[0].uid)
                elif op == "download":
                    mb.download([h.uid for h in heads])
                elif op == "delete_marked":
                    mb.delete_marked()
                else:
                    mb.quit_without_deleting()
            except BaseException as exc:
                error.append(exc)
            finally:
                done.set()

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        if not done.wait(fault.timeout * 6 + 10):
            problems.append("the operation hung")
        if undo is not None:
            undo()
            undo = None
        if error:
            exc = error[0]
            if isinstance(exc, MailboxError):
                outcome = exc.state.value
            else:
                outcome = f"crash: {type(exc).__name__}"
                problems.append(f"unexpected {type(exc).__name__}: {exc}")
        if outcome not in fault.allowed:
            problems.append(f"state {outcome!r} not in {sorted(fault.allowed)}")
        # 1. no wrong deletion
        now = {m.uid: m.data for m in box.snapshot()}
        removed = set(expected_server) - set(now)
        if not set(removed) <= set(marked):
            problems.append(f"deleted unmarked messages: {sorted(removed - set(marked))}")
        if op != "delete_marked" and removed:
            problems.append(f"{op} deleted {sorted(removed)}")
        for uid, data in now.items():
            if uid in expected_server and expected_server[uid] != data:
                problems.append("a message changed on the server")
        if fault.name == "UIDL reused for another message" and marked[0] not in now:
            problems.append("deleted a message whose UIDL was reused")
        # 2. no partial file under a final name
        target = paths.download_dir_for(account)
        good = set(before.values()) | set(expected_server.values())
        for f in (target.iterdir() if target.exists() else []):
            if f.suffix == ".eml" and f.read_bytes() not in good:
                problems.append(f"partial or wrong file under a final name: {f.name}")
            if f.suffix != ".eml":
                problems.append(f"leftover temp file: {f.name}")
        # 3. no state DB corruption
        db = sqlite3.connect(paths.state_db)
        try:
            if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                problems.append("state DB corrupt")
        finally:
            db.close()
        Store(paths.state_db).close()
        # 4. no thread left hung: the account lock is free again
        if mb.busy:
            problems.append("the account lock is still held")
        if done.is_set():  # release the files (Windows cannot remove open ones)
            mb.close()
            mb.store.close()
    except Exception as exc:  # the harness itself
        problems.append(f"harness: {type(exc).__name__}: {exc}")
    finally:
        if undo is not None:
            undo()
        srv.stop()
    return Outcome(op, fault.name, outcome, problems, time.monotonic() - t0)


def run_campaign(operations: tuple[str, ...] = OPERATIONS,
                 faults: list[Fault] | None = None) -> list[Outcome]:
    with tempfile.TemporaryDirectory(prefix="traymail-faults-") as tmp:
        return [run_one(op, f, Path(tmp)) for f in (faults or FAULTS) for op in operations]


def summary(outcomes: list[Outcome]) -> str:
    failures = [o for o in outcomes if o.problems]
    faults = list(dict.fromkeys(o.fault for o in outcomes))
    ops = list(dict.fromkeys(o.operation for o in outcomes))
    width = max(len(f) for f in faults)
    lines = [f"{'fault':<{width}} | " + " | ".join(f"{o[:13]:<13}" for o in ops)]
    lines.append("-" * len(lines[0]))
    for f in faults:
        cells = []
        for op in ops:
            o = next(x for x in outcomes if x.fault == f and x.operation == op)
            cells.append(f"{('FAIL ' if o.problems else '') + o.outcome:<13}"[:13])
        lines.append(f"{f:<{width}} | " + " | ".join(cells))
    lines.append("")
    lines.append(f"{len(ops)} operations x {len(faults)} faults = {len(outcomes)} runs, "
                 f"{len(failures)} failures")
    for o in failures:
        lines.append(f"  FAIL {o.operation} / {o.fault}: {'; '.join(o.problems)}")
    return "\n".join(lines)
