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
def test_idle_benchmark_smoke(x_display: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.app_idle", "--seconds", "1",
                           "--messages", "30"], cwd=ROOT, capture_output=True, text=True,
                          timeout=110)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout[: proc.stdout.rindex("}") + 1])
    assert result["window_rows"] == 30 and result["rss_mib"] > 0
