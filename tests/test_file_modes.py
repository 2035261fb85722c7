"""traymail's folders are 0700 and its files 0600, whatever the umask: after a
real check and download against Dovecot (the command, a real keyring), the
app's log with a rollover, the instance channel, and the state database with
its -wal/-shm, every folder under the home is 0700 and every file 0600. A
user-chosen download folder keeps its mode; the files in it are 0600."""

from __future__ import annotations

import errno
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from traymail.instance import InstanceServer
from traymail.settings import Account, Security, Settings, resolve_paths, save_settings
from traymail.store import Store

from .realservers import DovecotAccount
from .test_cli import traymail


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual 022: a mode must come from traymail, not from the umask."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def walk(top: Path, skip: Path | None = None) -> tuple[dict[Path, int], dict[Path, int]]:
    dirs: dict[Path, int] = {top: mode(top)}
    files: dict[Path, int] = {}
    for root, dirnames, filenames in os.walk(top):
        for d in dirnames:
            p = Path(root) / d
            if p != skip:
                dirs[p] = mode(p)
        for f in filenames:
            files[Path(root) / f] = mode(Path(root) / f)
    return dirs, files


@pytest.mark.dovecot
def test_everything_traymail_writes_is_private(dovecot_account: DovecotAccount,
                                               secret_service: dict[str, str],
                                               tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "home"
    mine = home / "my mail"  # the user's own folder, as they made it
    mine.mkdir(parents=True, mode=0o755)
    os.chmod(home, 0o755)
    os.chmod(mine, 0o755)
    for i in range(3):
        dovecot_account.add(f"From: S{i} <s{i}@example.org>\nSubject: files {i}\n\nbody\n"
                            .encode())
    server = dovecot_account.server
    common = dict(host="127.0.0.1", username=dovecot_account.user, security=Security.SSL,
                  port=server.ssl_port, cafile=str(server.cert.cert))
    save_settings(Settings((Account(name="dove", **common),  # type: ignore[arg-type]
                            Account(name="mine", download_dir=str(mine),
                                    **common))),  # type: ignore[arg-type]
                  home / "settings.json")
    env = secret_service
    for name in ("dove", "mine"):
        traymail(env, home, "--account", name, "set-password",
                 stdin=dovecot_account.password + "\n")
    traymail(env, home, "check")
    traymail(env, home, "headers")
    assert len(traymail(env, home, "--account", "dove", "fetch", "--new").stdout.split()) >= 3
    traymail(env, home, "--account", "mine", "fetch", "--new")
    # the app's own log, rotated once (both files private)
    subprocess.run([sys.executable, "-c",
                    "import logging, sys; from pathlib import Path; "
                    "from traymail.app import setup_logging; "
                    "setup_logging(Path(sys.argv[1])); "
                    "log = logging.getLogger('traymail'); log.warning('one'); "
                    "[h.doRollover() for h in log.handlers if hasattr(h, 'doRollover')]; "
                    "log.warning('two')", str(home / "logs")], check=True, timeout=60)
    paths = resolve_paths(home=home)
    instance = InstanceServer(paths, lambda m: None)  # the channel's folder and socket
    instance.start()
    store = Store(paths.state_db)  # open, written: -wal and -shm exist now
    try:
        store.set_history("dove")
        assert (paths.state_dir / "state.sqlite3-wal").exists()
        assert (paths.state_dir / "state.sqlite3-shm").exists()
        assert instance.address is not None and Path(instance.address).exists()
        dirs, files = walk(home, skip=mine)
    finally:
        store.close()
        instance.close()
    dirs.pop(home)  # made by the test (0755), like any folder the user picks
    wrong = {p.relative_to(home).as_posix(): oct(m) for p, m in dirs.items() if m != 0o700}
    wrong.update({p.relative_to(home).as_posix(): oct(m) for p, m in files.items()
                  if m != 0o600 and not p.is_relative_to(mine)})
    assert not wrong, wrong
    names = {p.relative_to(home).as_posix() for p in files}
    assert {"settings.json", "state/state.sqlite3", "state/state.sqlite3-wal",
            "state/state.sqlite3-shm", "state/instance.key", "logs/traymail.log",
            "logs/traymail.log.1", "logs/dove.log", "logs/mine.log"} <= names, names
    assert len([n for n in names if n.startswith("downloads/dove/")]) == 3, names
    assert any(n.startswith("state/run/traymail-") for n in names), names
    # the user's folder keeps its mode; what traymail wrote into it is private
    assert mode(mine) == 0o755
    emls = sorted(mine.glob("*.eml"))
    assert len(emls) == 3 and {mode(p) for p in emls} == {0o600}
    assert [p.name for p in mine.iterdir() if p.suffix != ".eml"] == []


def test_private_helpers(tmp_path: Path, loose_umask: None) -> None:
    from traymail.private import (
        PrivateRotatingFileHandler,
        create_private,
        open_private_append,
        private_dir,
        write_private_text,
    )

    # folders: made 0700 with their missing parents; ours tightened, the user's kept
    deep = private_dir(tmp_path / "a" / "b" / "c")
    assert [mode(tmp_path / p) for p in ("a", "a/b", "a/b/c")] == [0o700] * 3
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    private_dir(loose, own=False)
    assert mode(loose) == 0o755
    private_dir(loose)
    assert mode(loose) == 0o700
    # new files: 0600, never through a planted symlink, never into an existing file
    target = tmp_path / "elsewhere"
    target.write_text("theirs")
    link = deep / "planted"
    link.symlink_to(target)
    with pytest.raises(FileExistsError):
        create_private(link)
    with pytest.raises(OSError) as info:
        open_private_append(link)
    assert info.value.errno == errno.ELOOP
    with pytest.raises(OSError):
        write_private_text(link, "x")
    assert target.read_text() == "theirs"
    os.close(create_private(deep / "new"))
    assert mode(deep / "new") == 0o600
    old = deep / "old.log"
    old.write_text("x")
    os.chmod(old, 0o644)
    os.close(open_private_append(old))
    assert mode(old) == 0o600
    saved = deep / "saved.log"
    write_private_text(saved, "transcript\n")
    assert mode(saved) == 0o600 and saved.read_text() == "transcript\n"
    # a rotating log: the live file and each rotated one
    handler = PrivateRotatingFileHandler(deep / "r.log", maxBytes=50, backupCount=2)
    logger = logging.getLogger("traymail.test.private")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for i in range(10):
            logger.warning("line %d of a log that rotates", i)
    finally:
        logger.removeHandler(handler)
        handler.close()
    logs = sorted(deep.glob("r.log*"))
    assert len(logs) == 3 and {mode(p) for p in logs} == {0o600}


def test_store_tightens_an_old_database(tmp_path: Path, loose_umask: None) -> None:
    state = tmp_path / "state"
    Store(state / "state.sqlite3").close()
    assert mode(state) == 0o700 and mode(state / "state.sqlite3") == 0o600
    for suffix in ("", "-wal", "-shm"):  # as an older traymail left them
        p = state / f"state.sqlite3{suffix}"
        p.touch()
        os.chmod(p, 0o644)
    os.chmod(state, 0o755)
    store = Store(state / "state.sqlite3")
    try:
        store.set_history("x")
        assert mode(state) == 0o700
        assert {mode(state / f"state.sqlite3{s}") for s in ("", "-wal", "-shm")} == {0o600}
    finally:
        store.close()
