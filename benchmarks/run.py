"""Side-by-side benchmark: traymail vs poplib vs mpop vs the raw limit.

    python -m benchmarks.run [--suites headers,download,huge] [--rtt 0,50]
                             [--runs 3] [--count 1000] [--huge-mb 100]

Sets up its own loopback world -- a private Dovecot (the test fixture's code),
a generated mailbox, and a latency proxy adding RTT/2 each way -- then runs
every contender in its own process, interleaved run by run, and prints the
median (min-max) with the ratio to the raw pipelined socket. Results are
also written as JSON (benchmarks/results/).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.realservers import Dovecot, DovecotAccount, start_dovecot

from .mailbox import huge_message, synthetic_mailbox, synthetic_message

SUITES: dict[str, tuple[str, ...]] = {
    "headers": ("raw-top", "traymail-top", "traymail-headers", "poplib-top"),
    "download": ("raw-retr", "traymail-retr", "traymail-files", "traymail-download-new", "mpop",
                 "poplib-retr"),
    "huge": ("raw-retr", "traymail-files", "mpop", "poplib-retr"),
    "check": ("traymail-check",),
}
ROOT = Path(__file__).resolve().parent


class Proxy:
    """benchmarks.latency_proxy in its own process (so it never shares our GIL)."""

    def __init__(self, target: int, rtt_ms: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.latency_proxy", "--target", str(target),
             "--delay-ms", str(rtt_ms / 2), "--lifetime", "3600"],
            stdout=subprocess.PIPE, text=True, cwd=ROOT.parent,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError("latency proxy did not start")
        self.port = int(line[1])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def run_client(name: str, port: int, account: DovecotAccount, only: int | None) -> dict[str, float]:
    cmd = [sys.executable, "-m", "benchmarks.clients", name, "--port", str(port),
           "--user", account.user, "--password", account.password]
    if only:
        cmd += ["--only", str(only)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT.parent, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed: {proc.stderr.strip()[-500:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def fill(account: DovecotAccount, messages: list[bytes]) -> None:
    for m in messages:
        account.add(m)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--suites", default="headers,download,huge,check")
    ap.add_argument("--rtt", default="0,50", help="round-trip times in ms")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--huge-mb", type=int, default=100)
    ap.add_argument("--check-count", type=int, default=10_000)
    ap.add_argument("--json", help="result file (default benchmarks/results/<time>.json)")
    a = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop Dovecot
    suites = [s for s in a.suites.split(",") if s]
    rtts = [float(x) for x in a.rtt.split(",")]

    print(f"starting Dovecot; {a.count} synthetic messages"
          + (f" + one {a.huge_mb} MB message" if "huge" in suites else ""), flush=True)
    server: Dovecot = start_dovecot()
    rows: list[dict[str, object]] = []
    try:
        box = server.new_account()
        fill(box, synthetic_mailbox(a.count))
        huge = server.new_account()
        if "huge" in suites:
            huge.add(huge_message(a.huge_mb))
        big = server.new_account()
        if "check" in suites:
            print(f"filling a {a.check_count}-message mailbox for the check suite", flush=True)
            fill(big, [synthetic_message(i, seed=7)[:1500] + b"\n" for i in range(a.check_count)])
        for rtt in rtts:
            proxy = Proxy(server.port, rtt) if rtt > 0 else None
            port = proxy.port if proxy else server.port
            try:
                for suite in suites:
                    account = {"huge": huge, "check": big}.get(suite, box)
                    clients = SUITES[suite]
                    if rtt > 0 and suite != "huge":
                        clients = tuple(c for c in clients if not c.startswith("poplib")
                                        or a.count <= 1000)
                    run_client(clients[0], port, account, None)  # warm Dovecot's index
                    samples: dict[str, list[dict[str, float]]] = {c: [] for c in clients}
                    for _ in range(a.runs):
                        for c in clients:
                            samples[c].append(run_client(c, port, account, None))
                    raw = statistics.median(s["seconds"] for s in samples[clients[0]])
                    for c in clients:
                        secs = [s["seconds"] for s in samples[c]]
                        med = statistics.median(secs)
                        row = {
                            "suite": suite, "rtt_ms": rtt, "client": c,
                            "median_s": med, "min_s": min(secs), "max_s": max(secs),
                            "ratio_to_raw": med / raw if raw else None,
                            "cpu_s": statistics.median(s["cpu"] for s in samples[c]),
                            "peak_rss_mib": max(s["peak_rss_kib"] for s in samples[c]) / 1024,
                            "messages": samples[c][0]["messages"],
                            "octets": samples[c][0]["octets"],
                        }
                        if "round_trips" in samples[c][0]:
                            row["round_trips"] = max(s["round_trips"] for s in samples[c])
                        rows.append(row)
                        print(_fmt(row), flush=True)
            finally:
                if proxy:
                    proxy.stop()
    finally:
        server.stop()
    print()
    print(table(rows))
    out = Path(a.json) if a.json else ROOT / "results" / time.strftime("%Y%m%d-%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": platform.platform(),
        "cpus": os.cpu_count(), "runs": a.runs, "count": a.count, "rows": rows,
    }, indent=1))
    print(f"\nresults written to {out}")
    return 0


def _fmt(r: dict[str, object]) -> str:
    rt = f"  {r['round_trips']} round trips" if "round_trips" in r else ""
    return (f"  {r['suite']:<9} rtt {r['rtt_ms']:>4.0f} ms  {r['client']:<22} "
            f"{r['median_s']:8.3f} s  ({r['min_s']:.3f}-{r['max_s']:.3f})  "
            f"x{r['ratio_to_raw']:.2f} first  cpu {r['cpu_s'] * 1000:.0f} ms  "
            f"{r['peak_rss_mib']:.0f} MiB{rt}")


def table(rows: list[dict[str, object]]) -> str:
    head = "| task | RTT | client | median s (min-max) | × raw | CPU s | peak RSS |"
    lines = [head, "|---|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['suite']} | {r['rtt_ms']:.0f} ms | {r['client']} | "
            f"{r['median_s']:.3f} ({r['min_s']:.3f}-{r['max_s']:.3f}) | "
            f"{r['ratio_to_raw']:.2f} | {r['cpu_s']:.2f} | {r['peak_rss_mib']:.0f} MiB |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
