"""The benchmark tools keep working (tiny budgets; the figures come from the
full runs documented in the README, not from tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.dovecot
@pytest.mark.timeout(300)
def test_benchmark_runner_smoke(dovecot: object, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--suites", "headers,download,check",
         "--rtt", "0,20", "--runs", "1", "--count", "20", "--check-count", "50",
         "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    clients = {(r["suite"], r["rtt_ms"], r["client"]) for r in rows}
    assert ("headers", 20.0, "traymail-headers") in clients
    assert ("download", 0.0, "mpop") in clients
    check = next(r for r in rows if r["client"] == "traymail-check")
    assert check["round_trips"] <= 5 and check["messages"] == 50
    assert all(r["median_s"] > 0 for r in rows)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("tls", [False, True])
def test_idle_benchmark_smoke(x_display: str, tls: bool) -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.app_idle", "--seconds", "1",
                           "--messages", "30", *(["--tls"] if tls else [])], cwd=ROOT,
                          capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout[: proc.stdout.rindex("}") + 1])
    # the first check worked (over STARTTLS too): its 30 headers are in the window
    assert result["window_rows"] == 30 and result["rss_mib"] > 0 and result["tls"] is tls
    assert result["dock_ms"] is not None and result["dock_ms"] > 0  # the icon docked


@pytest.mark.dovecot
@pytest.mark.timeout(300)
def test_scale_benchmark_smoke(dovecot: object, tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--sizes", "40,120",
                           "--runs", "1", "--json", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {(r["size"], r["step"]): r for r in json.loads(out.read_text())["rows"]}
    for size in (40, 120):
        assert rows[(size, "uidl-raw")]["messages"] == size
        assert rows[(size, "uidl-client")]["messages"] == size
        assert rows[(size, "first-check")]["messages"] == size
        assert rows[(size, "check-no-new")]["messages"] == size
        assert rows[(size, "check-10-new")]["messages"] == size + 10
        assert rows[(size, "headers-new")]["messages"] == 10  # only the new ones
        assert rows[(size, "delete-10")]["messages"] == 10
        assert all(rows[(size, s)]["peak_rss_mib"] > 0 and rows[(size, s)]["db_kib"] > 0
                   for s in ("first-check", "check-no-new", "delete-10"))
    assert "| check-no-new |" in proc.stdout


@pytest.mark.dovecot
@pytest.mark.timeout(300)
def test_coldstart_benchmark_smoke(dovecot: object, tmp_path: Path) -> None:
    out = tmp_path / "cold.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.coldstart", "--runs", "1",
                           "--count", "20", "--json", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {r["command"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"python -c pass", "traymail --help", "traymail check --json"}
    assert all(r["cpu_s"] > 0 for r in rows.values())
