"""Downloads are pipelined with the disk (traymail.download) but keep their
order of durability: data fsynced -> final name -> folder fsynced -> recorded,
one folder fsync and one state commit per batch. And a process killed at any
moment leaves no final-named partial file and records nothing not on disk."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import traymail.download as download
from traymail.devmailboxes import MemoryMailbox
from traymail.devserver import DevServer
from traymail.mailbox import Mailbox
from traymail.passwords import MemoryStore
from traymail.samples import sample_message
from traymail.settings import Account, Security, resolve_paths
from traymail.store import Store

ROOT = Path(__file__).resolve().parent.parent
MakeServer = Callable[..., DevServer]


def messages(count: int, body_lines: int = 12) -> list[bytes]:
    return [sample_message(i, body_lines) for i in range(count)]


def mailbox_for(srv: DevServer, home: Path) -> Mailbox:
    account = Account("A", "127.0.0.1", "user", security=Security.NONE, port=srv.port,
                      allow_insecure=True, download_dir=str(home / "eml"))
    paths = resolve_paths(home=home)
    pw = MemoryStore()
    pw.set(account, "pass")
    return Mailbox(account, Store(paths.state_db), pw, paths)


@pytest.mark.posix_only("names each fsync'd file from /proc/self/fd")
def test_fsync_rename_folder_fsync_record_in_that_order(
        make_devserver: MakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    count = 2 * download.BATCH + 7  # three batches
    msgs = messages(count)
    srv = make_devserver(MemoryMailbox(msgs))
    mb = mailbox_for(srv, tmp_path / "home")
    mb.check()
    events: list[tuple[str, str]] = []
    lock = threading.Lock()

    def log(kind: str, what: str) -> None:
        with lock:
            events.append((kind, what))

    real_fsync, real_replace, real_dir = os.fsync, os.replace, download.fsync_dir
    real_add = Store.add_downloads

    def fsync(fd: int) -> None:
        real_fsync(fd)
        log("fsync", os.readlink(f"/proc/self/fd/{fd}"))

    def replace(src: str | Path, dst: str | Path) -> None:
        real_replace(src, dst)
        log("rename", f"{src} -> {dst}")

    def fsync_dir(path: Path) -> None:
        real_dir(path)
        log("dirsync", str(path))

    def add(self: Store, account: str, files: list[tuple[str, Path, int]]) -> None:
        files = list(files)
        for _uid, path, _ in files:  # recorded: already on disk under its final name
            assert path.exists() and not path.name.startswith(".")
        real_add(self, account, files)
        log("record", ",".join(str(p) for _, p, _ in files))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(download, "fsync_dir", fsync_dir)
    monkeypatch.setattr(Store, "add_downloads", add)
    files = mb.download_new()
    assert len(files) == count
    kinds = [k for k, _ in events]
    assert kinds.count("dirsync") == 3 and kinds.count("record") == 3  # once per batch
    assert kinds.count("rename") == count
    for f in files:
        part = next(w.split(" -> ")[0] for k, w in events
                    if k == "rename" and w.endswith(f" -> {f}"))
        synced = next(i for i, (k, w) in enumerate(events) if k == "fsync" and w == part)
        renamed = next(i for i, (k, w) in enumerate(events)
                       if k == "rename" and w.endswith(f" -> {f}"))
        recorded = next(i for i, (k, w) in enumerate(events)
                        if k == "record" and str(f) in w.split(","))
        dirsynced = next(i for i in range(renamed, len(events)) if events[i][0] == "dirsync")
        assert synced < renamed < dirsynced < recorded
    assert sorted(p.read_bytes() for p in files) == sorted(
        m.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for m in msgs)
    assert mb.download_new() == []  # all recorded


def test_a_failing_file_does_not_lose_the_batch(
        make_devserver: MakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One message's fsync fails (disk trouble): the others streamed with it
    are still made final and recorded; the failed one is not, and the error
    is reported."""
    srv = make_devserver(MemoryMailbox(messages(10)))
    mb = mailbox_for(srv, tmp_path / "home")
    mb.check()
    real_fsync, calls = os.fsync, [0]

    def fsync(fd: int) -> None:
        calls[0] += 1
        if calls[0] == 4:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(Exception, match="No space left"):
        mb.download_new()
    monkeypatch.setattr(os, "fsync", real_fsync)
    target = tmp_path / "home" / "eml"
    final = [p for p in target.iterdir() if not p.name.startswith(".")]
    assert len(final) == 9 and not [p for p in target.iterdir() if p.name.endswith(".part")]
    assert len(mb.store.downloads("A")) == 9
    assert len(mb.download_new()) == 1  # the one that failed, now


CHILD = r"""
import sys
from pathlib import Path
from tests.test_download_order import mailbox_for
from traymail.devserver import DevServer

class Srv:  # only the port is needed
    port = int(sys.argv[1])

mb = mailbox_for(Srv, Path(sys.argv[2]))
mb.check()
print("READY", flush=True)
mb.download_new(lambda done, total: print(done, flush=True))
print("DONE", flush=True)
"""


@pytest.mark.timeout(240)
def test_killed_at_any_moment_no_partial_final_file_and_no_false_record(
        make_devserver: MakeServer, tmp_path: Path) -> None:
    msgs = messages(200, body_lines=400)  # ~20 KB each: the kill lands mid-stream
    srv = make_devserver(MemoryMailbox(msgs))
    ref = mailbox_for(srv, tmp_path / "ref")
    ref.check()
    complete = {p.read_bytes() for p in ref.download_new()}
    assert len(complete) == 200
    total = sum(len(m) for m in complete)
    cut: list[int] = []  # final files at each kill
    for k, fraction in enumerate((0.05, 0.3, 0.55, 0.8, 0.97)):
        home = tmp_path / f"kill{k}"
        # a server of its own for each victim, on the same mailbox: when a server
        # notices its killed client is that server's business (under Wine it can
        # take minutes, with the maildrop locked meanwhile; real servers time out)
        victim = make_devserver(srv.mailbox)
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(victim.port), str(home)],
                                 cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "READY"
        for line in child.stdout:
            if line.strip() == "DONE" or int(line) >= fraction * total:
                break
        child.kill()  # SIGKILL; TerminateProcess on Windows
        child.wait(10)
        target = home / "eml"
        final = [p for p in target.iterdir() if not p.name.startswith(".")]
        cut.append(len(final))
        for p in final:  # a final name: a complete message
            assert p.read_bytes() in complete, f"partial file {p.name} after a kill"
        db = sqlite3.connect(resolve_paths(home=home).state_db)
        rows = db.execute("SELECT path FROM downloads").fetchall()
        db.close()
        for (path,) in rows:  # recorded: on disk, complete
            assert Path(path).read_bytes() in complete
        # the next run finishes the job
        mb = mailbox_for(srv, home)
        mb.download_new()
        assert {p.read_bytes() for p in target.iterdir()
                if not p.name.startswith(".")} == complete
    assert any(0 < n < 200 for n in cut), f"no kill landed mid-download: {cut}"
