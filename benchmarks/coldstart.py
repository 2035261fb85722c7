"""What one console call costs: CPU of ``traymail --help`` and of ``traymail
check --json`` over a bare ``python -c pass`` of the same interpreter.

    python -m benchmarks.coldstart [--runs 10] [--count 1000] [--baseline DIR]

Starts its own Dovecot (generated config, loopback) with a ``--count``-message
mailbox and a real Secret Service (gnome-keyring on a private D-Bus, the test
helpers'), writes the settings to that desktop's user config folder
(``$XDG_CONFIG_HOME/traymail``: found with platformdirs, as in a real run),
stores the password with ``traymail set-password``, checks once (the state
knows every message), then runs the three commands interleaved,
each as its own process, as cron or a status bar would: STARTTLS, password
from the Secret Service, nothing new. CPU is the child's user + system time
(wait4). ``--baseline DIR`` runs a second traymail package (DIR holds its
``traymail/``, e.g. ``git archive <commit> traymail | tar -x -C DIR``) in the
same rounds, for a side-by-side before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """(CPU s, wall s, exit status) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime, wall, proc.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--baseline", help="a folder holding another traymail/ to compare")
    ap.add_argument("--json", help="result file (default benchmarks/results/coldstart-*.json)")
    a = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.path.insert(0, str(ROOT))
    from benchmarks.scale import fill
    from tests.desktop import Desktop
    from tests.realservers import start_dovecot

    server = start_dovecot()
    desktop = Desktop()
    home = Path(tempfile.mkdtemp(prefix="traymail-coldstart-"))  # (the children's cwd)
    try:
        desktop.start_secret_service()
        box = server.new_account()
        fill(box, 0, a.count)
        acc = {"name": "bench", "host": "127.0.0.1", "username": box.user,
               "security": "starttls", "port": server.port, "cafile": str(server.cert.cert)}
        # the settings where a user's are (no --home: the user folders are
        # found as in a real run, with platformdirs); the desktop's XDG folders
        config = Path(desktop.env["XDG_CONFIG_HOME"]) / "traymail"
        config.mkdir(parents=True, exist_ok=True)
        (config / "settings.json").write_text(json.dumps({"schema_version": 1,
                                                          "accounts": [acc]}))
        env = {**desktop.env, "PYTHONPATH": str(ROOT)}
        env.pop("TRAYMAIL_PASSWORD_IN_MEMORY", None)
        py = sys.executable
        # byte-code compiled once, as an installed package is (with
        # PYTHONDONTWRITEBYTECODE set, every run would compile from source)
        trees = [str(ROOT / "traymail")] + ([str(Path(a.baseline) / "traymail")]
                                             if a.baseline else [])
        subprocess.run([py, "-m", "compileall", "-q", *trees], check=True)
        tm = [py, "-m", "traymail"]
        subprocess.run([*tm, "set-password"], input=box.password + "\n", text=True,
                       env=env, check=True, capture_output=True, cwd=home)
        first = subprocess.run([*tm, "check", "--json"], env=env, capture_output=True,
                               text=True, cwd=home)
        entry = json.loads(first.stdout)["accounts"][0]
        if entry["state"] != "ok" or entry["total_count"] != a.count:
            raise SystemExit(f"the first check failed: {first.stdout} {first.stderr}")
        contenders: dict[str, tuple[list[str], dict[str, str]]] = {
            "python -c pass": ([py, "-c", "pass"], env),
            "traymail --help": ([py, "-m", "traymail", "--help"], env),
            "traymail check --json": ([*tm, "check", "--json"], env),
        }
        if a.baseline:  # (the children run in ``home``: the checkout is not on sys.path)
            old = {**env, "PYTHONPATH": str(Path(a.baseline).resolve())}
            contenders["baseline --help"] = ([py, "-m", "traymail", "--help"], old)
            contenders["baseline check --json"] = ([*tm, "check", "--json"], old)
        samples: dict[str, list[tuple[float, float]]] = {k: [] for k in contenders}
        for cmd, e in contenders.values():  # warm the page cache once
            measure(cmd, e, home)
        for _ in range(a.runs):
            for name, (cmd, e) in contenders.items():
                cpu, wall, status = measure(cmd, e, home)
                if status != 0:
                    raise SystemExit(f"{name} exited with {status}")
                samples[name].append((cpu, wall))
    finally:
        desktop.stop()
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    base = statistics.median(c for c, _ in samples["python -c pass"])
    rows = []
    for name, ss in samples.items():
        cpu = statistics.median(c for c, _ in ss)
        rows.append({"command": name, "cpu_s": cpu, "over_python_s": cpu - base,
                     "min_cpu_s": min(c for c, _ in ss), "max_cpu_s": max(c for c, _ in ss),
                     "wall_s": statistics.median(w for _, w in ss)})
    lines = ["| command | CPU s, median (min-max) | over `python -c pass` | wall s |",
             "|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['command']} | {r['cpu_s']:.3f} ({r['min_cpu_s']:.3f}-"
                     f"{r['max_cpu_s']:.3f}) | {r['over_python_s']:+.3f} | {r['wall_s']:.3f} |")
    print("\n".join(lines))
    out = Path(a.json) if a.json else ROOT / "benchmarks" / "results" / time.strftime(
        "coldstart-%Y%m%d-%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": a.runs,
                               "count": a.count, "rows": rows}, indent=1))
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
