"""The single-instance channel against a second local user: real uids (the
tests run as root, as CI does, and start the other user's processes as
``nobody`` with setpriv). A squatter may plant files and sockets wherever it
can, listen, and answer with a pickle; it must never get code run as us nor
stop our start. A peer of another uid is refused by the server."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from traymail import instance
from traymail.instance import InstanceServer, send_to_running
from traymail.settings import Paths, resolve_paths

from .otheruser import CLIENT, Squatter, nobody_command


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Our side: a private temp dir for homes and markers; no XDG_RUNTIME_DIR
    unless a test sets one."""
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    return tmp_path


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder the other user can reach (pytest's own temp root is 0700)."""
    nobody_command()
    path = Path(tempfile.mkdtemp(prefix="traymail-squat-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def guessable_paths(paths: Paths, bases: list[str]) -> list[str]:
    """Where the old channel put its socket: anyone can compute these."""
    tag = hashlib.sha256(str(paths.state_dir.resolve()).encode()).hexdigest()[:12]
    return [os.path.join(b, f"traymail-{os.getuid()}-{tag}.sock") for b in bases]


def world_writable(path: Path) -> Path:
    path.mkdir(parents=True)
    os.chmod(path, 0o1777)
    return path


def start_like_the_app(paths: Paths, got: list[str]) -> InstanceServer:
    """What a launch does: probe for a running instance, then listen."""
    assert not send_to_running(paths, "show")
    server = InstanceServer(paths, got.append)
    server.start()
    return server


def hands_off(paths: Paths, got: list[str]) -> None:
    """A second launch of the same user still reaches the first one."""
    assert send_to_running(paths, "show")
    assert send_to_running(paths, "quit")
    deadline = time.monotonic() + 5
    while got[-2:] != ["show", "quit"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert got[-2:] == ["show", "quit"]


# -- a squatter without the key --------------------------------------------------------

@pytest.mark.parametrize("xdg", [False, True], ids=["no-runtime-dir", "shared-runtime-dir"])
def test_squatter_answering_with_a_pickle_runs_no_code(
        env: Path, shared: Path, monkeypatch: pytest.MonkeyPatch, xdg: bool) -> None:
    home = env / "home"
    paths = resolve_paths(home=home)
    marker = env / "marker-code-ran"
    bases = [tempfile.gettempdir()]
    if xdg:  # a runtime dir others can write to: never ours to use
        runtime = world_writable(shared / "xdg-shared")
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        bases.append(str(runtime))
    listen = guessable_paths(paths, bases)
    for p in listen:
        Path(p).unlink(missing_ok=True)
    squatter = Squatter(marker=str(marker), listen=listen)
    got: list[str] = []
    server = None
    try:
        server = start_like_the_app(paths, got)
        hands_off(paths, got)
    finally:
        if server is not None:
            server.close()
        time.sleep(0.5)  # time for a late unpickle, had there been one
        lines = squatter.stop()
        for p in listen:
            Path(p).unlink(missing_ok=True)
    assert not marker.exists(), "the squatter's pickle ran as root: " + "\n".join(lines)
    assert not squatter.contacted, lines
    assert server.address is not None and server.address.startswith(str(paths.state_dir))


def test_squatted_paths_do_not_stop_the_start(env: Path, shared: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    home = env / "home"
    paths = resolve_paths(home=home)
    runtime = world_writable(shared / "xdg-shared")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    squats = guessable_paths(paths, [tempfile.gettempdir(), str(runtime)])
    for p in squats:
        Path(p).unlink(missing_ok=True)
    squatter = Squatter(marker=str(env / "m"), mkdir=squats)
    got: list[str] = []
    server = None
    try:
        assert all(os.stat(p).st_uid != 0 for p in squats)  # planted by nobody
        server = start_like_the_app(paths, got)  # must not raise
        hands_off(paths, got)
    finally:
        if server is not None:
            server.close()
        squatter.stop()
        for p in squats:
            shutil.rmtree(p, ignore_errors=True)


# -- a squatter that even has the key ------------------------------------------------

def test_foreign_runtime_dir_is_not_used(env: Path, shared: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         caplog: pytest.LogCaptureFixture) -> None:
    """XDG_RUNTIME_DIR owned by another user (with a listening socket under
    our very name, key known): never connected to, never used."""
    paths = resolve_paths(home=env / "home")
    key = instance._authkey(paths)
    theirs = shared / "theirs"
    theirs.mkdir()
    nobody = pwd.getpwnam("nobody")
    os.chown(theirs, nobody.pw_uid, nobody.pw_gid)
    os.chmod(theirs, 0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(theirs))
    squatter = Squatter(marker=str(env / "m"), key=key.hex(),
                        listen=[str(theirs / instance.socket_name(key))])
    got: list[str] = []
    server = None
    try:
        with caplog.at_level(logging.WARNING, "traymail.instance"):
            server = start_like_the_app(paths, got)
        assert "owned by uid" in caplog.text
        hands_off(paths, got)
    finally:
        if server is not None:
            server.close()
        lines = squatter.stop()
    assert not squatter.contacted, lines
    assert server.address is not None and server.address.startswith(str(paths.state_dir))


def test_socket_of_another_uid_in_our_folder_is_refused(
        env: Path, shared: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The socket file looks like ours (owner root) but the process behind it
    runs as nobody: SO_PEERCRED tells, before a byte is exchanged."""
    paths = resolve_paths(home=env / "home")
    key = instance._authkey(paths)
    drop = world_writable(shared / "drop")
    squatter = Squatter(marker=str(env / "m"), key=key.hex(), listen=[str(drop / "s.sock")])
    got: list[str] = []
    server = None
    try:
        run = paths.state_dir / "run"
        run.mkdir(mode=0o700)
        ours = run / instance.socket_name(key)
        os.rename(drop / "s.sock", ours)
        os.chown(ours, 0, 0, follow_symlinks=False)
        with caplog.at_level(logging.WARNING, "traymail.instance"):
            assert not send_to_running(paths, "show")  # a fake "ok" would stop our start
            assert "runs as uid" in caplog.text
            server = InstanceServer(paths, got.append)  # the stale socket is replaced
            server.start()
        hands_off(paths, got)
    finally:
        if server is not None:
            server.close()
        lines = squatter.stop()
    # it was connected to (SO_PEERCRED named nobody's uid: the squatter's own
    # "connection" line can be lost when its process ends under load)...
    assert squatter.contacted or "runs as uid" in caplog.text, lines
    assert not [line for line in lines if line.startswith("command")], lines  # ...told nothing


def test_no_safe_place_left_still_starts(env: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Every place for the socket taken by another user: the app starts all
    the same, without the channel, and says why in its log."""
    nobody_command()  # root, to give the folders away
    paths = resolve_paths(home=env / "home")
    instance._authkey(paths)
    nobody = pwd.getpwnam("nobody")
    for name in ("run", f"run-{os.getuid()}"):
        (paths.state_dir / name).mkdir(mode=0o700)
        os.chown(paths.state_dir / name, nobody.pw_uid, nobody.pw_gid)
    got: list[str] = []
    with caplog.at_level(logging.WARNING, "traymail.instance"):
        server = start_like_the_app(paths, got)
    try:
        assert server.address is None
        assert "no safe place for the single-instance channel" in caplog.text
        assert caplog.text.count("owned by uid") >= 2
        assert not send_to_running(paths, "show")
        assert [p.name for p in (paths.state_dir / "run").iterdir()] == []
    finally:
        server.close()


# -- the server side -------------------------------------------------------------------

def test_server_refuses_a_peer_of_another_uid(env: Path, shared: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    paths = resolve_paths(home=env / "home")
    got: list[str] = []
    server = InstanceServer(paths, got.append)
    server.start()
    try:
        assert server.address is not None
        # a second name for our socket where nobody can reach it, connectable
        # by all (as if our folder were misconfigured), and the key: the uid
        # check alone must stop it
        door = shared / "door.sock"
        os.link(server.address, door)
        os.chmod(door, 0o777)
        key = instance._authkey(paths)
        with caplog.at_level(logging.WARNING, "traymail.instance"):
            out = subprocess.run([*nobody_command(), CLIENT,
                                  json.dumps({"key": key.hex(), "path": str(door)})],
                                 capture_output=True, text=True, timeout=30)
        assert "refused" in out.stdout, out.stdout + out.stderr
        assert f"refused an instance connection from uid {pwd.getpwnam('nobody').pw_uid}" \
            in caplog.text
        assert got == []
        hands_off(paths, got)  # our own user still gets through
    finally:
        server.close()


def test_only_known_commands_with_the_key(env: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Same user, raw frames: a wrong key, an unknown word and a pickle are
    refused and logged; nothing is ever unpickled."""
    paths = resolve_paths(home=env / "home")
    got: list[str] = []
    server = InstanceServer(paths, got.append)
    server.start()
    key = instance._authkey(paths)
    marker = env / "marker"

    class Evil:
        def __reduce__(self) -> tuple[object, ...]:
            return (open, (str(marker), "w"))

    import pickle

    def exchange(k: bytes, word: bytes) -> bytes:
        conns = list(instance._connections(paths, key, 3.0))
        assert len(conns) == 1
        conn = conns[0]
        try:
            assert conn.poll(5)
            ns = conn.recv_bytes(256).partition(b"\n")[2]
            nc = os.urandom(32)
            conn.send_bytes(word + b"\n" + nc + instance._mac(k, b"client", ns, nc, word))
            assert conn.poll(5)
            return conn.recv_bytes(256)
        finally:
            conn.close()

    try:
        with caplog.at_level(logging.WARNING, "traymail.instance"):
            assert exchange(os.urandom(32), b"show") == b"refused\n"
            assert exchange(key, b"rm -rf /") == b"unknown\n"
            # (a pickle holding a newline fails the key check instead: refused too)
            assert exchange(key, pickle.dumps(Evil())) in (b"unknown\n", b"refused\n")
            assert exchange(key, b"show").startswith(b"ok\n")
        assert "does not hold the key" in caplog.text
        assert "refused an unknown instance command 'rm -rf /'" in caplog.text
        time.sleep(0.2)
        assert got == ["show"] and not marker.exists()
        with pytest.raises(ValueError):
            send_to_running(paths, "open /etc/passwd")
    finally:
        server.close()


def test_no_reflection_between_connections() -> None:
    """Both nonces, the command and the role are signed: the server's proof is
    never a valid client request, and a request answers one challenge only."""
    key = os.urandom(32)

    def recv(conn: Connection) -> bytes:  # never hang the test
        assert conn.poll(5), "no answer"
        return conn.recv_bytes(256)

    server_end, client_end = Pipe()
    result: list[str | None] = []
    t = threading.Thread(target=lambda: result.append(
        instance._server_exchange(server_end, key)))
    t.start()
    ns = recv(client_end).partition(b"\n")[2]
    nc = os.urandom(32)
    # the server's own proof for (ns, nc, "show") reflected back as a request
    client_end.send_bytes(b"show\n" + nc + instance._mac(key, b"server", ns, nc, b"show", b"ok"))
    assert recv(client_end) == b"refused\n"
    t.join(5)
    assert result == [None]
    # a valid request for one challenge, replayed against a fresh challenge
    req = b"show\n" + nc + instance._mac(key, b"client", ns, nc, b"show")
    server_end2, client_end2 = Pipe()
    t = threading.Thread(target=lambda: result.append(
        instance._server_exchange(server_end2, key)))
    t.start()
    recv(client_end2)
    client_end2.send_bytes(req)
    assert recv(client_end2) == b"refused\n"
    t.join(5)
    assert result == [None, None]
    # and a client accepts only the server's proof for its own nonce
    server_end3, client_end3 = Pipe()
    ok: list[bool] = []
    t = threading.Thread(target=lambda: ok.append(
        instance._client_exchange(client_end3, key, "show", 3.0)))
    t.start()
    server_end3.send_bytes(b"TRAYMAIL-INSTANCE/2\n" + ns)
    request = recv(server_end3)
    their_nonce = request.partition(b"\n")[2][:32]
    assert their_nonce != nc
    server_end3.send_bytes(b"ok\n" + instance._mac(key, b"server", ns, nc, b"show", b"ok"))
    t.join(5)
    assert ok == [False]


def test_key_file_of_another_user_is_replaced(env: Path) -> None:
    paths = resolve_paths(home=env / "home")
    paths.state_dir.mkdir(parents=True)
    planted = env / "their-key"
    planted.write_bytes(b"k" * 32)
    (paths.state_dir / "instance.key").symlink_to(planted)
    key = instance._authkey(paths)
    assert key != b"k" * 32 and planted.read_bytes() == b"k" * 32
    st = os.lstat(paths.state_dir / "instance.key")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    nobody_command()  # root, to give the file away
    nobody = pwd.getpwnam("nobody")
    os.chown(paths.state_dir / "instance.key", nobody.pw_uid, nobody.pw_gid)
    assert instance._authkey(paths) != key  # not ours: replaced, not trusted
    assert os.stat(paths.state_dir / "instance.key").st_uid == os.getuid()
