"""How the engine grows with the mailbox: 10,000 vs 100,000 messages.

    python -m benchmarks.scale [--sizes 10000,100000] [--runs 3]

Starts its own Dovecot (the test fixture's code, generated config, loopback),
writes each maildir directly, lets Dovecot index it once, then runs -- each
step in its own process, the sizes interleaved run by run -- what a user's
mailbox goes through: the first check (empty state), a check with nothing
new, 10 arrivals and the check that finds them, the header list of the new
ones, and deleting those 10. The UIDL listing is the yardstick -- raw (one
socket, lines only counted) and as traymail's client reads it (login, UIDL,
every line checked and parsed): the no-new check must not grow faster. A
check with nothing new follows a check, as a periodic one does (the first
check after a deletion re-syncs the state). Prints median
CPU and wall time of the operation, the process's peak RSS (everything,
imports included) and the state database's size after the step.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
STEPS = ("uidl-raw", "uidl-client", "first-check", "check-no-new", "check-10-new", "headers-new",
         "delete-10")


def message(i: int) -> bytes:
    """A small, plain message (LF line ends, as a maildir stores it)."""
    return (f"From: Sender {i % 97} <s{i % 97}@example.org>\nTo: you@example.org\n"
            f"Subject: Scale test message {i}\nDate: Mon, 2 Nov 2026 10:{i % 60:02d}:00 +0000\n"
            f"Message-ID: <scale-{i}@example.org>\n\nBody of message {i}.\n").encode()


def fill(account: object, start: int, count: int) -> None:
    """Deliver straight into new/ (what DovecotAccount.add does, in bulk)."""
    maildir: Path = account.maildir  # type: ignore[attr-defined]
    server = account.server  # type: ignore[attr-defined]
    for i in range(start, start + count):
        name = f"{1700000000 + i}.M{i:07d}P1.traymail-scale"
        path = maildir / "new" / name
        path.write_bytes(message(i))
        os.chown(path, server.uid, server.gid)


# -- the child: one step, measured ------------------------------------------------

def _vm_hwm_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _raw_uidl(a: argparse.Namespace) -> dict[str, object]:
    s = socket.create_connection(("127.0.0.1", a.port))
    f = s.makefile("rb")
    f.readline()
    s.sendall(f"USER {a.user}\r\nPASS {a.password}\r\n".encode())
    f.readline()
    f.readline()
    s.sendall(b"UIDL\r\n")
    f.readline()
    n = 0
    for line in f:
        if line == b".\r\n":
            break
        n += 1
    s.sendall(b"QUIT\r\n")
    s.close()
    return {"messages": n}


def child(a: argparse.Namespace) -> dict[str, object]:
    t0, c0 = time.perf_counter(), time.process_time()
    if a.step == "uidl-raw":
        out = _raw_uidl(a)
        return {**out, "seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0}
    if a.step == "uidl-client":
        from traymail.pop3 import POP3

        t0, c0 = time.perf_counter(), time.process_time()
        with POP3("127.0.0.1", a.port, timeout=300) as pop:
            pop.capa()
            pop.login(a.user, a.password)
            n = len(pop.uidl())
        return {"messages": n, "seconds": time.perf_counter() - t0,
                "cpu": time.process_time() - c0}
    from traymail.mailbox import Mailbox
    from traymail.passwords import MemoryStore
    from traymail.settings import Account, Security, resolve_paths
    from traymail.store import Store

    home = Path(a.home)
    account = Account("scale", "127.0.0.1", a.user, security=Security.NONE, port=a.port,
                      allow_insecure=True, download_dir=str(home / "eml"))
    paths = resolve_paths(home=home)
    passwords = MemoryStore()
    passwords.set(account, a.password)
    victims: list[str] = []
    if a.step == "delete-10":  # the 10 new ones (chosen before the clock starts)
        import sqlite3

        db = sqlite3.connect(paths.state_db)
        victims = [u for (u,) in db.execute("SELECT uid FROM messages WHERE seen=0")][-10:]
        db.close()
    # what every command pays is measured: opening (and checking) the state too
    t0, c0 = time.perf_counter(), time.process_time()
    store = Store(paths.state_db)
    mb = Mailbox(account, store, passwords, paths, timeout=300)
    if a.step == "setup":  # the lasting state: checked once, the old mail seen
        mb.check()
        mb.mark_all_seen()
        return {"messages": 0, "seconds": 0.0, "cpu": 0.0}
    out: dict[str, object]
    if a.step in ("first-check", "check-no-new", "check-10-new", "settle"):
        r = mb.check()
        out = {"messages": r.total_count, "arrived": len(r.newly_arrived)}
    elif a.step == "headers-new":
        heads = mb.headers(new_only=True)
        out = {"messages": len(heads)}
    elif a.step == "delete-10":
        mb.mark(victims)
        report = mb.delete_marked()
        out = {"messages": len(report.deleted)}
    else:
        raise SystemExit(f"unknown step {a.step}")
    out.update(seconds=time.perf_counter() - t0, cpu=time.process_time() - c0)
    store.close()
    mb.close()
    db = paths.state_db
    out["db_bytes"] = sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
    return out


def run_step(step: str, port: int, account: object, home: Path) -> dict[str, float]:
    cmd = [sys.executable, "-m", "benchmarks.scale", "--child", step, "--port", str(port),
           "--user", account.user, "--password", account.password,  # type: ignore[attr-defined]
           "--home", str(home)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT.parent, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{step} failed: {proc.stderr.strip()[-800:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- the parent ----------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", help="result file (default benchmarks/results/scale-<time>.json)")
    ap.add_argument("--child", choices=(*STEPS, "setup", "settle"), help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--user", help=argparse.SUPPRESS)
    ap.add_argument("--password", help=argparse.SUPPRESS)
    ap.add_argument("--home", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        a.step = a.child
        out = child(a)
        out["peak_rss_kib"] = _vm_hwm_kib()
        print(json.dumps(out))
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop Dovecot
    sys.path.insert(0, str(ROOT.parent))
    from tests.realservers import start_dovecot

    sizes = [int(x) for x in a.sizes.split(",") if x]
    server = start_dovecot()
    work = Path(tempfile.mkdtemp(prefix="traymail-scale-"))
    samples: dict[tuple[int, str], list[dict[str, float]]] = {}
    try:
        boxes = {}
        for size in sizes:
            print(f"writing a {size}-message maildir", flush=True)
            box = server.new_account()
            fill(box, 0, size)
            run_step("uidl-raw", server.port, box, work)  # Dovecot indexes it once
            boxes[size] = box
        added = dict.fromkeys(sizes, 0)
        for run in range(a.runs):
            for size in sizes:
                box, home = boxes[size], work / f"home-{size}"
                first_home = work / f"first-{size}-{run}"

                def step(name: str, where: Path, size: int = size, box: object = box,
                         run: int = run) -> None:
                    r = run_step(name, server.port, box, where)
                    samples.setdefault((size, name), []).append(r)
                    print(f"  run {run + 1} {size:>7} {name:<13} {r['seconds']:7.3f} s  "
                          f"cpu {r['cpu']:6.3f} s  {r['peak_rss_kib'] / 1024:5.1f} MiB  "
                          f"{r.get('db_bytes', 0) / 1024:8.0f} KiB db", flush=True)

                step("uidl-raw", work)
                step("uidl-client", work)
                step("first-check", first_home)
                if run == 0:
                    run_step("setup", server.port, box, home)  # the lasting state
                run_step("settle", server.port, box, home)  # the check before
                step("check-no-new", home)
                fill(box, size + added[size], 10)
                added[size] += 10
                step("check-10-new", home)
                step("headers-new", home)
                step("delete-10", home)
    finally:
        server.stop()
    rows = []
    for (size, name), rs in samples.items():
        rows.append({"size": size, "step": name,
                     "median_s": statistics.median(r["seconds"] for r in rs),
                     "cpu_s": statistics.median(r["cpu"] for r in rs),
                     "peak_rss_mib": max(r["peak_rss_kib"] for r in rs) / 1024,
                     "db_kib": max(r.get("db_bytes", 0) for r in rs) / 1024,
                     "messages": rs[-1]["messages"]})
    print()
    print(table(rows, sizes))
    out = Path(a.json) if a.json else ROOT / "results" / time.strftime("scale-%Y%m%d-%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": a.runs,
                               "sizes": sizes, "rows": rows}, indent=1))
    print(f"\nresults written to {out}")
    return 0


def table(rows: list[dict[str, object]], sizes: list[int]) -> str:
    by = {(r["size"], r["step"]): r for r in rows}
    head = "| step | " + " | ".join(f"{s:,}: CPU s / wall s / peak RSS / state DB"
                                     for s in sizes)
    lines = [head + (" | growth: CPU / wall |" if len(sizes) == 2 else " |"),
             "|---|" + "---:|" * (len(sizes) + (len(sizes) == 2))]
    for step in STEPS:
        cells = []
        for s in sizes:
            r = by.get((s, step))
            cells.append("—" if r is None else
                         f"{r['cpu_s']:.3f} / {r['median_s']:.3f} / "
                         f"{r['peak_rss_mib']:.0f} MiB / {r['db_kib']:,.0f} KiB")
        line = f"| {step} | " + " | ".join(cells) + " |"
        if len(sizes) == 2:
            lo, hi = by.get((sizes[0], step)), by.get((sizes[1], step))
            grow = (f"×{hi['cpu_s'] / lo['cpu_s']:.1f} / "  # type: ignore[operator]
                    f"×{hi['median_s'] / lo['median_s']:.1f}"  # type: ignore[operator]
                    if lo and hi and lo["cpu_s"] and lo["median_s"] else "—")
            line += f" {grow} |"
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
