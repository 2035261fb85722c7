"""The tray app at rest: CPU and RSS over an idle minute, the time from
starting the process to its icon docked in the tray, and the time to open
the mailbox window with a warm header cache.

    python -m benchmarks.app_idle [--seconds 60] [--messages 1000] [--tls]

Starts its own Xvfb, private D-Bus, tray host and notification daemon (the
test helpers), a devserver with a generated mailbox, and the real app in a
child process; measures the child from outside (/proc) so the measurement
costs it nothing. ``--tls``: the account uses STARTTLS, verified against a
generated certificate (OpenSSL in use from the first check, as for most
users); the default is a plain account, the set-up of issue 15's goal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: after tests.desktop.APP_CHILD_START (the app started in the child)
CHILD = r"""

def ready():
    # the first check done and its toast handed over: the notifier starts at
    # the first toast, a one-time cost that is no part of the idle minute
    toasts = app.notifier.history if app.notifier is not None else app.toasts
    if app.results and len(toasts) >= len(app.toasts):
        print("READY", flush=True)
    else:
        app.bridge.after(100, ready)

def commands():
    for line in sys.stdin:
        if line.strip() == "window":
            app.bridge.post(open_window)
        elif line.strip() == "quit":
            app.bridge.post(app.quit)

def open_window():
    t0 = time.perf_counter()
    win = app.show_mailbox()
    app.root.update()
    n = len(win.tree.get_children())
    print(json.dumps({"window_ms": (time.perf_counter() - t0) * 1000, "rows": n}), flush=True)

app.bridge.after(100, ready)
threading.Thread(target=commands, daemon=True).start()
app.run()
"""


def proc_stat(pid: int) -> tuple[float, int]:
    """(CPU seconds used so far, RSS in KiB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return cpu, rss


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--tls", action="store_true", help="a STARTTLS account")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.desktop import APP_CHILD_START, start_xvfb, tray_desktop, tray_icons
    from tests.realservers import make_certificate
    from traymail.devserver import DevServer, MemoryMailbox
    from traymail.samples import sample_messages

    xvfb, display = start_xvfb()
    desktop = tray_desktop(display, notifications=True)
    try:
        env = {**desktop.env, "PYTHONPATH": str(ROOT)}
        home = tempfile.mkdtemp(prefix="traymail-idle-")
        cert = make_certificate(Path(home) / "cert") if a.tls else None
        with DevServer(MemoryMailbox(sample_messages(a.messages)), {"user": "pass"},
                       stls_context=cert.server_context() if cert else None) as srv:
            t_start = time.perf_counter()
            child = subprocess.Popen(
                [sys.executable, "-c", APP_CHILD_START + CHILD, str(srv.port), home,
                 *([str(cert.cert)] if cert else [])], env=env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            dock_ms = None  # until an XEmbed window of ours is reparented into the tray
            while child.poll() is None and time.perf_counter() - t_start < 30:
                if tray_icons(display):
                    dock_ms = (time.perf_counter() - t_start) * 1000
                    break
                time.sleep(0.01)
            assert child.stdin is not None and child.stdout is not None
            line = child.stdout.readline()
            if line.strip() != "READY":
                raise SystemExit(f"the app did not start: {line!r}")
            time.sleep(3)  # let the first check's follow-ups settle
            cpu0, _ = proc_stat(child.pid)
            t0 = time.monotonic()
            time.sleep(a.seconds)
            cpu1, rss = proc_stat(child.pid)
            wall = time.monotonic() - t0
            child.stdin.write("window\n")
            child.stdin.flush()
            window = json.loads(child.stdout.readline())
            child.stdin.write("quit\n")
            child.stdin.flush()
            child.wait(15)
    finally:
        desktop.stop()
        xvfb.stop()
    result = {"idle_seconds": round(wall, 1), "cpu_percent": 100 * (cpu1 - cpu0) / wall,
              "rss_mib": rss / 1024, "window_open_ms": window["window_ms"],
              "window_rows": window["rows"], "messages": a.messages, "dock_ms": dock_ms,
              "tls": a.tls}
    print(json.dumps(result, indent=1))
    print(f"\nidle {wall:.0f} s: CPU {result['cpu_percent']:.3f} %, RSS {rss / 1024:.0f} MiB; "
          f"mailbox window with {window['rows']} cached headers opened in "
          f"{window['window_ms']:.0f} ms; start to a docked icon "
          f"{'never' if dock_ms is None else f'{dock_ms:.0f} ms'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
