"""Flat memory: a 100 MB message streamed with retr(n, sink=f) from Dovecot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .realservers import DovecotAccount

CHILD = r"""
import json, resource, sys
from traymail.pop3 import POP3
host, port, user, password, out = sys.argv[1:6]
def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with POP3(host, int(port), timeout=60) as pop:
    pop.user(user); pop.pass_(password)
    size = pop.list(1).size
    before = peak_kib()
    with open(out, "wb") as f:
        octets = pop.retr(1, sink=f)
    after = peak_kib()
print(json.dumps({"octets": octets, "size": size, "before": before, "after": after}))
"""


def write_big_message(path: Path, megabytes: int) -> int:
    line = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ABCDEFGHIJKL\n"
    block = line * 10_000
    lines = 0
    with path.open("wb") as f:
        f.write(b"Subject: huge\nMessage-ID: <huge@example.org>\n\n.leading dot\n")
        while f.tell() < megabytes * 1_000_000:
            f.write(block)
            lines += 10_000
    return lines


@pytest.mark.dovecot
@pytest.mark.timeout(300)
def test_100mb_retr_to_sink_keeps_memory_flat(
    dovecot_account: DovecotAccount, tmp_path: Path
) -> None:
    src = tmp_path / "huge.eml"
    write_big_message(src, 100)
    dovecot_account.add(src.read_bytes())
    src.unlink()
    out = tmp_path / "out.eml"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, "127.0.0.1", str(dovecot_account.server.port),
         dovecot_account.user, dovecot_account.password, str(out)],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["octets"] == r["size"] == out.stat().st_size
    assert r["octets"] > 100_000_000
    growth_mib = (r["after"] - r["before"]) / 1024
    print(f"peak RSS growth during 100 MB RETR: {growth_mib:.1f} MiB")
    assert growth_mib < 32
    with out.open("rb") as f:
        head = f.read(60)
    assert head.startswith(b"Subject: huge\r\nMessage-ID: <huge@example.org>\r\n\r\n.lead")
