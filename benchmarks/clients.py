"""The contenders, each run in its own process by benchmarks.run.

    python -m benchmarks.clients NAME --port P --user U --password W [--out DIR] [--only N]

prints one JSON line: seconds (connect to QUIT), cpu seconds, peak RSS (KiB),
messages and octets handled. NAME is one of CLIENTS.
"""

from __future__ import annotations

import argparse
import json
import os
import poplib
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from traymail.pop3 import POP3

Result = tuple[int, int]  # messages, octets
_CHILD_PEAK = 0


def _login(a: argparse.Namespace) -> POP3:
    pop = POP3(a.host, a.port, timeout=120)
    pop.capa()  # what a real client does first: STLS? PIPELINING? LOGIN-DELAY?
    pop.login(a.user, a.password)
    return pop


def _numbers(a: argparse.Namespace, count: int) -> list[int]:
    return [a.only] if a.only else list(range(1, count + 1))


def traymail_top(a: argparse.Namespace) -> Result:
    with _login(a) as pop:
        nums = _numbers(a, pop.stat().count)
        octets = sum(len(data) for _, data in pop.top_many(nums))
    return len(nums), octets


class _Count:
    """A sink that only counts (what the raw client does with the bytes)."""

    octets = 0

    def write(self, data: bytes) -> int:
        self.octets += len(data)
        return len(data)


def traymail_retr(a: argparse.Namespace) -> Result:
    """retr_many, pipelined, into a counting sink: the protocol cost alone."""
    sink = _Count()
    with _login(a) as pop:
        nums = _numbers(a, pop.stat().count)
        total = sum(octets for _, octets in pop.retr_many(nums, lambda n: sink))  # type: ignore
    return len(nums), total


def traymail_files(a: argparse.Namespace) -> Result:
    """retr_many into one file per message, written to a temp name and renamed
    (atomic, like a download): comparable to mpop delivering to a maildir."""
    out = Path(a.out)
    total = 0
    with _login(a) as pop:
        nums = _numbers(a, pop.stat().count)
        files: dict[int, IO[bytes]] = {}

        def sink(n: int) -> IO[bytes]:
            f = open(out / f".{n}.part", "wb")
            files[n] = f
            return f

        for n, octets in pop.retr_many(nums, sink):
            files.pop(n).close()
            os.replace(out / f".{n}.part", out / f"{n}.eml")
            total += octets
    return len(nums), total


def _poplib(a: argparse.Namespace) -> poplib.POP3:
    poplib._MAXLINE = 1 << 20  # stock poplib refuses lines over 2,048 bytes
    pop = poplib.POP3(a.host, a.port, timeout=120)
    pop.user(a.user)
    pop.pass_(a.password)
    return pop


def poplib_top(a: argparse.Namespace) -> Result:
    pop = _poplib(a)
    nums = _numbers(a, pop.stat()[0])
    octets = 0
    for n in nums:
        _, lines, size = pop.top(n, 0)
        octets += size
    pop.quit()
    return len(nums), octets


def poplib_retr(a: argparse.Namespace) -> Result:
    pop = _poplib(a)
    nums = _numbers(a, pop.stat()[0])
    octets = 0
    for n in nums:
        _, lines, size = pop.retr(n)
        with open(Path(a.out) / f"{n}.eml", "wb") as f:
            f.write(b"\r\n".join(lines) + b"\r\n")
        octets += size
    pop.quit()
    return len(nums), octets


def _raw(a: argparse.Namespace, verb: bytes) -> Result:
    """The physical limit: every command in one write, replies only counted."""
    s = socket.create_connection((a.host, a.port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""

    def line() -> bytes:
        nonlocal buf
        while b"\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                raise SystemExit("raw: connection closed")
            buf += d
        first, buf = buf.split(b"\r\n", 1)
        if not first.startswith(b"+OK"):
            raise SystemExit(f"raw: server said {first!r}")
        return first

    line()
    s.sendall(b"USER %s\r\n" % a.user.encode())
    line()
    s.sendall(b"PASS %s\r\n" % a.password.encode())
    line()
    s.sendall(b"STAT\r\n")
    count = int(line().split()[1])
    nums = _numbers(a, count)
    batch = b"".join(verb % n for n in nums) + b"QUIT\r\n"
    w = threading.Thread(target=s.sendall, args=(batch,))
    w.start()
    total, terms, tail = len(buf), buf.count(b"\r\n.\r\n"), buf[-4:]
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        total += len(d)
        terms += (tail + d[:4]).count(b"\r\n.\r\n") + d.count(b"\r\n.\r\n")
        tail = d[-4:]
    w.join()
    s.close()
    if terms < len(nums):
        raise SystemExit(f"raw: only {terms} of {len(nums)} replies")
    return len(nums), total


def raw_top(a: argparse.Namespace) -> Result:
    return _raw(a, b"TOP %d 0\r\n")


def raw_retr(a: argparse.Namespace) -> Result:
    return _raw(a, b"RETR %d\r\n")


def mpop(a: argparse.Namespace) -> Result:
    """mpop (pipelining, C) delivering every message to a maildir, keeping them."""
    exe = shutil.which("mpop")
    if exe is None:
        raise SystemExit("mpop is not installed (Debian package mpop)")
    out = Path(a.out)
    for sub in ("cur", "new", "tmp"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    conf = out / "mpoprc"
    conf.write_text(
        f"defaults\ntls off\nauth user\nkeep on\nonly_new off\n"
        f"uidls_file {out}/uidls\n"
        f"account bench\nhost {a.host}\nport {a.port}\nuser {a.user}\n"
        f"password {a.password}\ndelivery maildir {out}\n"
    )
    conf.chmod(0o600)
    proc = subprocess.Popen([exe, "-q", "-C", str(conf), "bench"])
    global _CHILD_PEAK
    status = f"/proc/{proc.pid}/status"
    while proc.poll() is None:  # VmHWM of the child itself (ru_maxrss would
        try:                    # include this Python process, copied at fork)
            with open(status) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        _CHILD_PEAK = max(_CHILD_PEAK, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.002)
    if proc.returncode:
        raise SystemExit(f"mpop failed with status {proc.returncode}")
    files = list((out / "new").iterdir()) + list((out / "cur").iterdir())
    return len(files), sum(f.stat().st_size for f in files)


# -- the engine: what the app really does ---------------------------------------
_TIMING: dict[str, float] = {}


class _timed:
    """Time only the block (the engine's setup is not part of the figure)."""

    def __enter__(self) -> None:
        _TIMING["t0"], _TIMING["c0"] = time.perf_counter(), time.process_time()

    def __exit__(self, *exc: object) -> None:
        _TIMING["seconds"] = time.perf_counter() - _TIMING["t0"]
        _TIMING["cpu"] = time.process_time() - _TIMING["c0"]


def _mailbox(a: argparse.Namespace):  # type: ignore[no-untyped-def]
    from traymail.mailbox import Mailbox
    from traymail.passwords import MemoryStore
    from traymail.settings import Account, Security, resolve_paths
    from traymail.store import Store

    home = Path(a.out) / "home"
    account = Account("bench", a.host, a.user, security=Security.NONE, port=a.port,
                      allow_insecure=True, download_dir=str(Path(a.out) / "eml"))
    paths = resolve_paths(home=home)
    store = MemoryStore()
    store.set(account, a.password)
    # a running app has decoded headers before: warm the process (codecs,
    # time zone, parsers), not the cache -- the cache stays cold
    from traymail.decode import parse_headers
    from traymail.samples import sample_message

    for i in range(4):
        parse_headers("warm-up", 0, sample_message(i))
    return Mailbox(account, Store(paths.state_db), store, paths, timeout=120)


def traymail_headers(a: argparse.Namespace) -> Result:
    """Mailbox.headers() on a cold cache: UIDL + LIST + pipelined TOP, decoded, stored."""
    mb = _mailbox(a)
    with _timed():
        heads = mb.headers()
    return len(heads), sum(h.size or 0 for h in heads)


def traymail_download_new(a: argparse.Namespace) -> Result:
    """Mailbox.download_new(): atomic .eml files (temp, fsync, rename), state recorded."""
    mb = _mailbox(a)
    mb.check()  # learn the mailbox (a real app has done this long before)
    with _timed():
        files = mb.download_new()
    return len(files), sum(f.stat().st_size for f in files)


def traymail_check(a: argparse.Namespace) -> Result:
    """A periodic check with no new mail (the state already knows every UID)."""
    from traymail.pop3 import Direction

    mb = _mailbox(a)
    mb.check()
    events: list[object] = []
    mb.listeners.append(lambda name, ev: events.append(ev.direction))
    with _timed():
        r = mb.check()
    # round trips after connect: each time the client speaks after the server did
    turns, last = 0, None
    for d in events:
        if d is Direction.CLIENT and last is not Direction.CLIENT:
            turns += 1
        if d is not Direction.NOTE:
            last = d
    _TIMING["round_trips"] = turns
    return r.total_count, r.total_size


CLIENTS: dict[str, Callable[[argparse.Namespace], Result]] = {
    "traymail-headers": traymail_headers,
    "traymail-download-new": traymail_download_new,
    "traymail-check": traymail_check,
    "traymail-top": traymail_top,
    "poplib-top": poplib_top,
    "raw-top": raw_top,
    "traymail-retr": traymail_retr,
    "traymail-files": traymail_files,
    "poplib-retr": poplib_retr,
    "raw-retr": raw_retr,
    "mpop": mpop,
}


def _vm_hwm_kib() -> int:
    """Peak RSS of this process (VmHWM; ru_maxrss can carry the parent's peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("name", choices=sorted(CLIENTS))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--only", type=int)
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    own = a.out is None
    if own:
        a.out = tempfile.mkdtemp(prefix="traymail-bench-out-")
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        messages, octets = CLIENTS[a.name](a)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        if own:
            shutil.rmtree(a.out, ignore_errors=True)
    seconds = _TIMING.get("seconds", seconds)
    cpu = _TIMING.get("cpu", cpu)
    peak = _vm_hwm_kib()
    if a.name == "mpop":
        peak = _CHILD_PEAK
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + \
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
    extra = {k: v for k, v in _TIMING.items() if k in ("round_trips",)}
    print(json.dumps({"client": a.name, "seconds": seconds, "cpu": cpu, "peak_rss_kib": peak,
                      "messages": messages, "octets": octets, "pid": os.getpid(), **extra}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
